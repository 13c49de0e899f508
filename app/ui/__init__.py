"""The kiosk's screens: pygame scenes that read a view and emit intents (docs/architecture.md, Layers).

Imports only :mod:`app.core`, pygame and the standard library (a test enforces it).
"""

import os

# pygame prints a banner on import; the kiosk's stdout/stderr go to the journal, keep them clean.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
