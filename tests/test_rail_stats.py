"""Rail dependence from a session's samples and events (app.core.rail_stats)."""

from __future__ import annotations

import json

import pytest

from app.core.rail_stats import RailStats, rail_stats


def samples(spec: str, phase_of=lambda i: 0, speed: float = 1.0) -> list[dict]:
    """One character per second: H walking with rails held, F walking hands-free (rails not held),
    P paused (rails not held), C countdown, 0 running with the belt target at zero."""
    out = []
    for i, c in enumerate(spec):
        mode = {"H": "running", "F": "running", "0": "running", "P": "paused", "C": "countdown"}[c]
        out.append({"t": float(i), "mode": mode, "phase_idx": phase_of(i),
                    "target_speed_kmh": 0.0 if c in "PC0" else speed, "rails_held": int(c == "H")})
    return out


def ev(kind: str, **detail) -> dict:
    return {"kind": kind, "detail": json.dumps(detail)}


# fmt: off
CASES = [
    # id, samples, events, optional phases -> walking, held, early releases, rails pauses, longest hands-free
    ("all held",                 samples("HHHHHHHHHH"), [], [], 10, 10, 0, 0, 0),
    ("not walking is not counted: countdown, pause, zero target",
                                 samples("CCCHHHHPPP0HH"), [], [], 6, 6, 0, 0, 0),
    ("early release re-gripped within the grace: one, no pause",
                                 samples("HHHFHHHH"), [ev("rails_released", early=True, phase=0), ev("rails_held", phase=0)], [],
                                 8, 7, 1, 0, 0),
    ("early release then a rails pause: one episode, one pause",
                                 samples("HHFPPPHHH"), [ev("rails_released", early=True, phase=0), ev("pause", reason="rails released", phase=0),
                                                        ev("resume", after="rails released")], [], 6, 5, 1, 1, 0),
    ("a rails pause with no release event (let go during the resume countdown) counts",
                                 samples("HHPPHH"), [ev("pause", reason="user"), ev("pause", reason="rails released"), ev("resume")], [],
                                 4, 4, 1, 1, 0),
    ("two separate early releases",
                                 samples("HFHHFH"), [ev("rails_released", early=True, phase=0), ev("rails_held"),
                                                     ev("rails_released", early=True, phase=0), ev("rails_held")], [], 6, 4, 2, 0, 0),
    ("a release in an optional phase is not early; its stretch counts",
                                 samples("HHFFFFHFFH", phase_of=lambda i: 1), [ev("rails_released", early=False, phase=1)], [1],
                                 10, 4, 0, 0, 4),
    ("hands-free in a required phase is no stretch",
                                 samples("HFFFH", phase_of=lambda i: 0), [ev("rails_released", early=True, phase=0)], [1],
                                 5, 2, 1, 0, 0),
    ("a phase the core judged required (early release) has no stretch even if the file said optional",
                                 samples("HFFFH", phase_of=lambda i: 1), [ev("rails_released", early=True, phase=1)], [1],
                                 5, 2, 1, 0, 0),
    ("a stretch ends at a pause",
                                 samples("FFFPFF", phase_of=lambda i: 2), [], [2], 5, 0, 0, 0, 3),
    ("no walking at all",        samples("CCCPP"), [], [], 0, 0, 0, 0, 0),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rail_stats_table(case):
    _, rows, events, optional, walking, held, early, pauses, longest = case
    stats = rail_stats(rows, events, optional_phases=optional)
    assert stats.walking_seconds == walking
    assert stats.rails_held_seconds == held
    assert stats.early_releases == early
    assert stats.rails_pauses == pauses
    assert stats.longest_hands_free_s == longest


def test_shares_and_none_when_nothing_was_walked():
    stats = rail_stats(samples("HHHF", phase_of=lambda i: 0), [], optional_phases=[0])
    assert stats.rails_held_share == pytest.approx(0.75)
    assert stats.hands_free_share == pytest.approx(0.25)
    empty = RailStats()
    assert empty.rails_held_share is None and empty.hands_free_share is None
    assert empty.as_dict()["hands_free_share"] is None


def test_top_backward_speed_ignores_forward_phases_and_details_may_be_dicts():
    rows = samples("HHHH", phase_of=lambda i: i // 2)
    rows[1]["target_speed_kmh"] = 2.0
    rows[3]["target_speed_kmh"] = 5.0  # phase 1 is forward
    stats = rail_stats(rows, [{"kind": "rails_released", "detail": {"early": True, "phase": 0}}],
                       backward_phases=[0])
    assert stats.top_backward_speed_kmh == 2.0
    assert stats.early_releases == 1
    assert rail_stats(rows, [], backward_phases=None).top_backward_speed_kmh == 5.0


def test_broken_event_details_are_ignored_not_fatal():
    stats = rail_stats(samples("HH"), [{"kind": "rails_released", "detail": "{not json"}, {"kind": "pause", "detail": None}])
    assert stats.early_releases == 0 and stats.walking_seconds == 2


def test_lap_seconds_add_up_to_the_session():
    from hypothesis import given, strategies as st

    from app.core.rail_stats import split_seconds

    @given(st.lists(st.integers(0, 4000), min_size=1, max_size=12), st.integers(0, 40000))
    def check(parts, total):
        laps = split_seconds([float(p) for p in parts], float(total))
        assert sum(laps) == pytest.approx(total, abs=1e-6) and all(lap >= 0 for lap in laps)

    check()
    assert split_seconds([120.0, 121.0], 240.0) == [120.0, 120.0]  # the closing sample's extra second
    assert split_seconds([5.0], None) == [5.0]


def test_distance_is_measured_when_the_treadmill_reports_it_else_estimated():
    from app.core.rail_stats import session_figures

    walked = [{"mode": "running", "phase_idx": 0, "target_speed_kmh": 3.6, "actual_speed_kmh": None,
               "distance_m": None, "at": f"t{i}"} for i in range(10)]
    estimated = session_figures(walked)
    assert (estimated.distance_m, estimated.distance_source, estimated.samples) == (10.0, "estimated", 10)
    measured = session_figures([{**s, "distance_m": float(i)} for i, s in enumerate(walked)])
    assert (measured.distance_m, measured.distance_source) == (9.0, "treadmill")
    assert session_figures(walked, measured_distance_m=12.5).distance_m == 12.5
    assert session_figures([]).distance_m is None and session_figures([]).distance_source == ""
