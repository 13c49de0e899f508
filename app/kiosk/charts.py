"""A member's history as a chart PNG: the kiosk's own chart code (:mod:`app.ui.charts`), headless.
Used by the kiosk's USB export and by ``backstep export``."""

from __future__ import annotations

import os

from .data import history_data


def chart_png(history, title: str) -> bytes:
    """A member's history (``app.shell.history.MemberHistory``) drawn as PNG bytes."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's banner, on its first import
    from ..ui.charts import render_history_png  # pygame only when a chart is drawn

    return render_history_png(history_data(history, title), title)
