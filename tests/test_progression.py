"""Table tests for the progression rules (app.core.progression, docs/practice.md "Dose and progression").

Each row: the dose now, the last sessions, the therapist's limits -> the action, what changes, the
next dose and the reason (catalogue key and the sentence the person reads).
"""

from __future__ import annotations

import random

import pytest

from app.core.caps import Caps
from app.core.progression import (
    REASONS,
    THINGS,
    Dose,
    Limits,
    SessionOutcome,
    ceiling,
    suggest,
)
from app.core.units import KMH_PER_MPH


def mph(v: float) -> float:
    return v * KMH_PER_MPH


def dose(speed=0.8, minutes=5.0, incline=0.0, rails="required") -> Dose:
    return Dose(mph(speed), minutes, incline, rails)


def ok(**kw) -> SessionOutcome:
    """A session that went well: completed, pain steady, rails held."""
    base = dict(session_id=1, status="completed", pain_before=2, pain_after=2, early_releases=0)
    base.update(kw)
    return SessionOutcome(**base)


GOOD = ok()
WORSE = ok(pain_before=2, pain_after=3)          # pain up by 1: worse, but not enough to hold
PAIN_UP_2 = ok(pain_before=3, pain_after=5)


# fmt: off
CASES = [
    # id, current, history, limits, last_raised, units -> action, what, next, reason key, text
    ("no sessions yet: start",
     dose(), [], Limits(), None, "mph",
     "start", None, dose(), "progress_no_sessions", "Starting dose: no sessions yet"),
    ("over the speed limit: lower to it",
     dose(speed=1.5), [GOOD], Limits(max_speed_kmh=mph(1.2)), None, "mph",
     "lower", "speed", dose(speed=1.2), "progress_over_limit",
     "Lowering speed from 1.5 mph to 1.2 mph: your therapist's limit is 1.2 mph"),
    ("over the minutes limit: lower to it",
     dose(minutes=12), [GOOD], Limits(max_minutes=10), None, "mph",
     "lower", "minutes", dose(minutes=10), "progress_over_limit",
     "Lowering time from 12 min to 10 min: your therapist's limit is 10 min"),
    ("over the incline limit: lower to it even with bad pain",
     dose(speed=1.2, incline=3), [PAIN_UP_2], Limits(max_incline_pct=1), None, "mph",
     "lower", "incline", dose(speed=1.2, incline=1), "progress_over_limit",
     "Lowering incline from 3 % to 1 %: your therapist's limit is 1 %"),
    ("went well: raise speed by 0.1 mph",
     dose(speed=0.8), [GOOD], Limits(), None, "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("km/h member: raise speed by 0.2 km/h (0.12 mph)",
     Dose(1.2, 5), [GOOD], Limits(), None, "kmh",
     "raise", "speed", Dose(1.4, 5), "progress_raise",
     "Raising speed from 1.2 km/h to 1.4 km/h: the last session went well"),
    ("after speed was raised, time takes its turn: +1 minute",
     dose(speed=0.9), [GOOD], Limits(), "speed", "mph",
     "raise", "minutes", dose(speed=0.9, minutes=6), "progress_raise",
     "Raising time from 5 min to 6 min: the last session went well"),
    ("after time, incline: +1 % once steady at 1.0-2.0 mph",
     dose(speed=1.2), [ok(speed_kmh=mph(1.2))], Limits(), "minutes", "mph",
     "raise", "incline", dose(speed=1.2, incline=1), "progress_raise",
     "Raising incline from 0 % to 1 %: the last session went well"),
    ("no incline below 1.0 mph: speed instead",
     dose(speed=0.8), [GOOD], Limits(), "minutes", "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("no incline above 2.0 mph: wraps to speed, held by the default target",
     dose(speed=2.2, minutes=10), [ok(speed_kmh=mph(2.2))], Limits(max_speed_kmh=mph(2.5)), "minutes", "mph",
     "raise", "speed", dose(speed=2.3, minutes=10), "progress_raise",
     "Raising speed from 2.2 mph to 2.3 mph: the last session went well"),
    ("no incline when the last session ran at another speed (not steady yet)",
     dose(speed=1.2, minutes=10), [ok(speed_kmh=mph(1.1))], Limits(max_speed_kmh=mph(1.2)), "minutes", "mph",
     "hold", "incline", dose(speed=1.2, minutes=10), "progress_hold_incline_steady",
     "Holding incline: one more session steady at 1.2 mph before adding incline"),
    ("speed stops at the therapist's limit: time instead",
     dose(speed=1.0), [GOOD], Limits(max_speed_kmh=mph(1.0)), None, "mph",
     "raise", "minutes", dose(speed=1.0, minutes=6), "progress_raise",
     "Raising time from 5 min to 6 min: the last session went well"),
    ("a step never jumps past the limit: 0.95 limit -> 0.9",
     dose(speed=0.8), [GOOD], Limits(max_speed_kmh=mph(0.95)), None, "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("speed stops at 2.0 mph without a therapist's limit",
     dose(speed=2.0, minutes=10, incline=2), [ok(speed_kmh=mph(2.0))], Limits(), None, "mph",
     "hold", None, dose(speed=2.0, minutes=10, incline=2), "progress_hold_target",
     "Holding: at the target dose (2.0 mph, 10 min, 2 %); your therapist can set higher limits"),
    ("time stops at 10 minutes without a therapist's limit",
     dose(speed=2.0, minutes=10), [ok(speed_kmh=mph(2.0))], Limits(), "incline", "mph",
     "raise", "incline", dose(speed=2.0, minutes=10, incline=1), "progress_raise",
     "Raising incline from 0 % to 1 %: the last session went well"),
    ("a member's speed cap is a ceiling too",
     dose(speed=0.8, minutes=10), [GOOD], Limits(), None, "mph",
     "hold", None, dose(speed=0.8, minutes=10), "progress_hold_target",
     "Holding: at the target dose (0.8 mph, 10 min, 0 %); your therapist can set higher limits"),
    ("pain up by 2: hold, naming what would have gone up",
     dose(speed=0.8), [PAIN_UP_2], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_pain_rise",
     "Holding speed: pain went up by 2 after the last session (3 to 5)"),
    ("pain up by 1 only: still raise",
     dose(speed=0.8), [WORSE], Limits(), None, "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("pain went down: raise",
     dose(speed=0.8), [ok(pain_before=5, pain_after=3)], Limits(), None, "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("early release: hold",
     dose(speed=0.8), [ok(early_releases=2)], Limits(), "speed", "mph",
     "hold", "minutes", dose(speed=0.8), "progress_hold_early_release",
     "Holding time: the rails were let go too early 2 time(s) last session"),
    ("emergency stop: hold",
     dose(speed=0.8), [ok(status="emergency_stop", emergency_stops=1)], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_estop",
     "Holding speed: the last session ended with an emergency stop"),
    ("pain button during the session: hold",
     dose(speed=0.8), [ok(status="stopped", pain_tapped=True, pain_after=None)], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_pain_tap",
     "Holding speed: the last session was stopped for pain"),
    ("stopped before the end: hold",
     dose(speed=0.8), [ok(status="stopped")], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_unfinished",
     "Holding speed: the last session was not finished"),
    ("no pain score after: hold",
     dose(speed=0.8), [ok(pain_after=None)], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_pain_unknown",
     "Holding speed: no pain score after the last session, so the station cannot tell it went well"),
    ("two sessions with worse pain: step back the last raised thing",
     dose(speed=1.0, minutes=7), [WORSE, WORSE], Limits(), "minutes", "mph",
     "step_back", "minutes", dose(speed=1.0, minutes=6), "progress_step_back_pain",
     "Stepping back time from 7 min to 6 min: pain was worse after the last 2 sessions"),
    ("two sessions with worse pain, nothing raised yet: incline first",
     dose(speed=1.2, incline=2), [WORSE, PAIN_UP_2], Limits(), None, "mph",
     "step_back", "incline", dose(speed=1.2, incline=1), "progress_step_back_pain",
     "Stepping back incline from 2 % to 1 %: pain was worse after the last 2 sessions"),
    ("two sessions with worse pain, flat: speed",
     dose(speed=1.2), [WORSE, WORSE], Limits(), None, "mph",
     "step_back", "speed", dose(speed=1.1), "progress_step_back_pain",
     "Stepping back speed from 1.2 mph to 1.1 mph: pain was worse after the last 2 sessions"),
    ("a pain-button stop counts as worse pain",
     dose(speed=1.2), [ok(status="stopped", pain_tapped=True), WORSE], Limits(), None, "mph",
     "step_back", "speed", dose(speed=1.1), "progress_step_back_pain",
     "Stepping back speed from 1.2 mph to 1.1 mph: pain was worse after the last 2 sessions"),
    ("two worse sessions at the starting dose: hold, see the therapist",
     dose(speed=0.5, minutes=2), [WORSE, WORSE], Limits(), None, "mph",
     "hold", None, dose(speed=0.5, minutes=2), "progress_step_back_floor",
     "Holding the dose: pain was worse after the last 2 sessions, and the dose is already at the starting level; please talk to your therapist"),
    ("only the latest of two was worse: no step back",
     dose(speed=0.8), [GOOD, WORSE], Limits(), None, "mph",
     "raise", "speed", dose(speed=0.9), "progress_raise",
     "Raising speed from 0.8 mph to 0.9 mph: the last session went well"),
    ("worse, then a skipped score: no step back (cannot tell), hold for the missing score",
     dose(speed=0.8), [WORSE, ok(pain_before=None, pain_after=None)], Limits(), None, "mph",
     "hold", "speed", dose(speed=0.8), "progress_hold_pain_unknown",
     "Holding speed: no pain score after the last session, so the station cannot tell it went well"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_progression_table(case):
    _, current, history, limits, last_raised, units, action, what, expected, key, text = case
    caps = Caps(backward_speed_kmh=mph(0.8)) if "speed cap" in case[0] else None
    result = suggest(current, history, limits, units=units, caps=caps, last_raised=last_raised)
    assert (result.action, result.what) == (action, what)
    for thing in THINGS:
        assert result.next.value(thing) == pytest.approx(expected.value(thing), abs=1e-6), thing
    assert result.reasons[0].key == key
    assert result.reasons[0].text == text
    assert result.text.startswith(text)


def test_every_reason_in_the_catalogue_is_covered_by_the_table():
    used = set()
    for case in CASES:
        _, current, history, limits, last_raised, units, *_ = case
        caps = Caps(backward_speed_kmh=mph(0.8)) if "speed cap" in case[0] else None
        used |= {r.key for r in suggest(current, history, limits, units=units, caps=caps, last_raised=last_raised).reasons}
    assert used == set(REASONS)


def test_several_hold_reasons_are_all_given():
    last = ok(pain_before=1, pain_after=4, early_releases=1, status="emergency_stop", emergency_stops=1)
    result = suggest(dose(), [last])
    assert result.action == "hold"
    assert [r.key for r in result.reasons] == ["progress_hold_pain_rise", "progress_hold_early_release", "progress_hold_estop"]
    assert result.reasons[0].params == {"thing": "speed", "rise": 3, "before": 1, "after": 4}


def test_the_based_on_session_is_the_last_one():
    assert suggest(dose(), [ok(session_id=4), ok(session_id=9)]).based_on_session == 9
    assert suggest(dose(), []).based_on_session is None


def test_random_histories_never_raise_two_things_nor_pass_a_limit():
    """Whatever the history, at most one thing goes up, and never above the therapist's limit."""
    rng = random.Random(7)
    for _ in range(3000):
        current = Dose(mph(rng.choice([0.5, 0.8, 1.0, 1.3, 1.9, 2.0, 2.4])), rng.choice([2, 5, 9, 10, 15]),
                       rng.choice([0, 1, 2, 3]), "required")
        limits = Limits(rng.choice([None, mph(1.0), mph(1.45), mph(3.0)]), rng.choice([None, 6, 12]),
                        rng.choice([None, 0, 1.5, 4]))
        history = [SessionOutcome(session_id=i, status=rng.choice(["completed"] * 4 + ["stopped", "emergency_stop"]),
                                  pain_before=rng.choice([None, 0, 3]), pain_after=rng.choice([None, 0, 2, 3, 5]),
                                  early_releases=rng.choice([0, 0, 0, 1]), pain_tapped=rng.random() < 0.1,
                                  speed_kmh=rng.choice([None, current.speed_kmh]))
                   for i in range(rng.randint(0, 3))]
        units = rng.choice(["mph", "kmh"])
        result = suggest(current, history, limits, units=units, last_raised=rng.choice([None, *THINGS]))
        raised = [t for t in THINGS if result.next.value(t) > current.value(t) + 1e-9]
        assert len(raised) <= 1, (current, result)
        if raised:
            assert result.action == "raise"
            thing = raised[0]
            assert result.next.value(thing) <= ceiling(thing, limits) + 1e-6
        if result.action != "lower":
            for thing in THINGS:
                limit = limits.limit(thing)
                if limit is not None and current.value(thing) <= limit:
                    assert result.next.value(thing) <= limit + 1e-6
        else:
            for thing in THINGS:
                limit = limits.limit(thing)
                assert limit is None or result.next.value(thing) <= limit + 1e-6
        # Every reason is a catalogue entry whose sentence formats with its params.
        assert result.reasons and all(r.key in REASONS and r.text for r in result.reasons)
