"""A serial adapter that appears after the kiosk started: the link is lost at first, then found."""

from __future__ import annotations

import os
import threading

import pytest

from conftest import wait_for
from hardware.treadmill.link import LinkError, TreadmillLink
from hardware.treadmill.simulator import SimulatedTreadmillPort


def test_a_port_that_appears_later_is_found_and_reported_restored(tmp_path):
    late = tmp_path / "treadmill"  # like /dev/treadmill before udev made it
    lost, restored, reports = [], threading.Event(), []
    link = TreadmillLink(str(late), max_speed_kmh=8.0, max_incline_pct=10.0, poll_interval_s=0.1,
                         on_lost=lost.append, on_restored=restored.set,
                         on_report=lambda *r: reports.append(r))
    with pytest.raises(LinkError):
        link.start()  # the default still says at once that the port is missing
    link.start(wait_for_port=True)
    try:
        assert len(lost) == 1 and "treadmill" in lost[0]
        assert not link.connected
        with SimulatedTreadmillPort() as port:
            os.symlink(port.path, late)
            assert restored.wait(15), "the link never found the port"
            assert link.connected and reports
            # found again, but never told to move (docs/safety.md, rule 5): not in the next few polls either
            seen = len(reports)
            assert wait_for(lambda: len(reports) >= seen + 3), "the link stopped polling"
            assert port.simulator.target_speed_kmh == 0.0
    finally:
        link.close()


def test_permission_problems_still_fail_loudly(tmp_path, monkeypatch):
    import hardware.treadmill.link as link_module

    def refuse(url, **kwargs):
        raise LinkError(f"{url}: permission denied; add the user to the dialout group", "permission")

    monkeypatch.setattr(link_module, "open_port", refuse)
    link = TreadmillLink(str(tmp_path / "x"), max_speed_kmh=8.0, max_incline_pct=10.0)
    with pytest.raises(LinkError, match="dialout"):
        link.start(wait_for_port=True)
