"""`backstep treadmill probe|set` against a CSAFE treadmill we did not write.

tests/reference_treadmill.py was written from the published CSAFE documents alone, by an engineer
who never read hardware/treadmill/ (see its header for the sources). It answers in km/h or mph, so
these tests also check that the link honours the unit byte the machine answers with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import wait_for  # noqa: E402
from reference_treadmill import reference_treadmill_on_pty  # noqa: E402

from app.cli import main  # noqa: E402
from app.core.units import KMH_PER_MPH  # noqa: E402


@pytest.mark.parametrize("units", ["kmh", "mph"])
def test_probe_reads_state_speed_incline_and_distance(units, capsys):
    with reference_treadmill_on_pty(units=units) as (path, treadmill):
        code = main(["treadmill", "probe", "--port", path, "--json"])
        out = capsys.readouterr().out
        assert code == 0, out
        result = json.loads(out)
        assert treadmill.error is None
    assert result["speed_kmh"] == pytest.approx(0.0, abs=0.05)
    assert result["incline_pct"] == pytest.approx(0.0, abs=0.05)
    assert "state" in result and "distance_m" in result


@pytest.mark.parametrize("units", ["kmh", "mph"])
def test_set_runs_the_reference_belt_at_the_asked_speed(units, capsys):
    # A quick belt and incline motor: the test is about what is sent and read back, not ramp time.
    with reference_treadmill_on_pty(units=units, accel_kmh_per_s=10.0, incline_pct_per_s=10.0) as (path, treadmill):
        code = main(["treadmill", "set", "--port", path, "--speed", "1.0", "--units", "mph", "--incline", "2"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert treadmill.error is None
        assert treadmill.commanded_speed_kmh == pytest.approx(KMH_PER_MPH, abs=0.1)
        assert treadmill.commanded_grade_pct == pytest.approx(2.0, abs=0.1)
        assert wait_for(lambda: abs(treadmill.belt_speed_kmh - KMH_PER_MPH) < 0.1 and abs(treadmill.grade_pct - 2.0) < 0.05), \
            (treadmill.belt_speed_kmh, treadmill.grade_pct)
        # probe now reads the moving belt back in km/h, whatever unit the machine speaks
        assert main(["treadmill", "probe", "--port", path, "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["speed_kmh"] == pytest.approx(KMH_PER_MPH, abs=0.2)
        assert result["incline_pct"] == pytest.approx(2.0, abs=0.2)
        # and stops it
        assert main(["treadmill", "set", "--port", path, "--speed", "0", "--units", "mph"]) == 0
        assert treadmill.commanded_speed_kmh == pytest.approx(0.0, abs=0.01)
        assert wait_for(lambda: treadmill.belt_speed_kmh < 0.05)


def test_a_speed_above_the_caps_is_refused_and_never_sent(capsys):
    with reference_treadmill_on_pty(units="kmh") as (path, treadmill):
        code = main(["treadmill", "set", "--port", path, "--speed", "9", "--units", "mph"])
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
        assert treadmill.commanded_speed_kmh == pytest.approx(0.0)
