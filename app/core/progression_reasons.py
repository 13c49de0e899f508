"""The progression rules' reasons: catalogue key -> default English sentence (docs/practice.md,
"Dose and progression"). The rules are in :mod:`app.core.progression`.

A module of its own so the UI's text catalogue (app.ui.text) can take these keys at import without
importing the rules and their records: the kiosk imports the catalogue before READY=1, and the
rules are needed only after a session (docs/architecture.md, Budgets).
"""

from __future__ import annotations

#: Catalogue of reasons: key -> default English sentence. The UI may translate by key.
REASONS: dict[str, str] = {
    "progress_no_sessions": "Starting dose: no sessions yet",
    "progress_over_limit": "Lowering {thing} from {old} to {new}: your therapist's limit is {new}",
    "progress_step_back_pain": "Stepping back {thing} from {old} to {new}: pain was worse after the last {count} sessions",
    "progress_step_back_floor": "Holding {thing}: pain was worse after the last {count} sessions, and the dose is already at the starting level; please talk to your therapist",
    "progress_hold_pain_rise": "Holding {thing}: pain went up by {rise} after the last session ({before} to {after})",
    "progress_hold_pain_tap": "Holding {thing}: the last session was stopped for pain",
    "progress_hold_early_release": "Holding {thing}: the rails were let go too early {count} time(s) last session",
    "progress_hold_estop": "Holding {thing}: the last session ended with an emergency stop",
    "progress_hold_unfinished": "Holding {thing}: the last session was not finished",
    "progress_hold_pain_unknown": "Holding {thing}: no pain score after the last session, so the station cannot tell it went well",
    "progress_hold_incline_steady": "Holding incline: one more session steady at {speed} before adding incline",
    "progress_hold_target": "Holding: at the target dose ({dose}); your therapist can set higher limits",
    "progress_raise": "Raising {thing} from {old} to {new}: the last session went well",
}
