"""Every word the kiosk shows or speaks, keyed by message id: the one place to translate.

Scenes never hold a literal string meant for people; they call :func:`t` with a key. Keys that the
core produces (``Check.key``, ``Say.key``, pause reasons, outcomes) live here too, so a new key in
the core shows up as a missing key in ``tests/test_ui_text.py`` rather than as a blank on screen.
Parameters use ``str.format`` names, so a translator can move them around in the sentence.

Translation goes through the standard :mod:`gettext` machinery: the English words below are the
source strings (msgids), a :class:`Plural` entry is an ``ngettext`` pair chosen by one of its
parameters ("1 session", "2 sessions"; other languages have other plural rules, which their ``.po``
file states). ``tools/make_pot.py`` writes the template ``app/locale/backstep.pot``; a translation
is a ``.po`` file made from it, compiled with ``msgfmt`` to
``app/locale/<language>/LC_MESSAGES/backstep.mo``. The language comes from the usual ``LANGUAGE`` /
``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` environment, or :func:`set_language`; a language without a
translation falls back to English, never to a blank.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import NamedTuple

from app.core.progression_reasons import REASONS

#: The gettext domain: ``backstep.pot`` / ``<language>/LC_MESSAGES/backstep.mo``.
DOMAIN = "backstep"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class Plural(NamedTuple):
    """A message with a count: ``ngettext(singular, plural, params[count])``."""

    singular: str
    plural: str
    count: str  # the parameter that holds the number


CATALOGUE: dict[str, "str | Plural"] = {
    # Start-up ----------------------------------------------------------------------------------
    "splash_title": "Backstep",
    "splash_starting": "Starting…",
    # Home --------------------------------------------------------------------------------------
    "home_title": "Choose a program",
    "home_member": "Walker: {name}",
    "home_guest": "Guest",
    "home_history": "History",
    "home_staff": "Staff",
    "home_no_programs": "No programs installed. Ask staff to add program files.",
    "home_stick": "USB stick found: export",
    "card_minutes": "{minutes} min",
    "card_first_speed": "starts {speed} {unit}",
    "card_for_everyone": "For everyone",
    "page_prev": "‹ Back",
    "page_next": "More ›",
    "back": "‹ Back",
    "close": "Close",
    "ok": "OK",
    # Member pick -------------------------------------------------------------------------------
    "member_title": "Who is walking?",
    "member_guest_hint": "Guest: no history is kept by name",
    # Pre-flight --------------------------------------------------------------------------------
    "preflight_title": "Before you start",
    "check_lanyard": "Safety lanyard clipped to your clothing",
    "check_rails": "Both hands on the side rails",
    "check_link": "Treadmill connected",
    "check_facing": "Facing away from the console",
    "check_speed": "Treadmill at its slowest speed",
    "check_ok": "yes",
    "check_missing": "not yet",
    "check_look": "check",
    "preflight_plan": Plural("{minutes} min · {phases} stage · starts {speed} {unit} {direction}",
                             "{minutes} min · {phases} stages · starts {speed} {unit} {direction}", "phases"),
    "start": "Start",
    "start_blocked": "Start is locked until every live check says yes",
    "pain_before": "Pain now: {score}",
    "pain_before_none": "Pain now?",
    "pain_before_title": "How much pain do you feel now? 0 = none, 10 = worst",
    # Countdown / resuming ----------------------------------------------------------------------
    "countdown_title": "Starting in",
    "countdown_hint": "Hold the rails. First: {direction} at {speed} {unit}",
    "resuming_title": "Resuming in",
    "resuming_hint": "Keep holding the rails",
    # Running -----------------------------------------------------------------------------------
    "dir_backward": "BACKWARD",
    "dir_forward": "FORWARD",
    "speed_value": "{speed} {unit}",
    "incline_value": "Incline {incline} %",
    "actual_value": "Belt: {speed} {unit}",
    "phase_left": "left in this stage",
    "session_left": "Session {clock} left",
    "round": "Round {label}",
    "next_preview": "Next: {direction} {speed} {unit}, incline {incline} %",
    "next_last": "Last step: then cool down",
    "warning_change": "Change in {seconds} s",
    "rails_label": "Rails",
    "rails_held": "held",
    "rails_released": "let go",
    "rails_grace": "HOLD ON",
    "rails_optional": "optional",
    "lanyard_label": "Lanyard",
    "lanyard_clipped": "clipped",
    "lanyard_pulled": "pulled",
    "link_label": "Link",
    "link_up": "on",
    "link_down": "lost",
    "link_none": "set speed by hand",
    "hub_label": "Clinic hub",
    "hub_never": "never",
    "hub_synced": Plural("synced {when} · {waiting} session waiting", "synced {when} · {waiting} sessions waiting",
                         "waiting"),
    "hub_failed": "not reached (last synced {when}); see backstep doctor",
    "pause": "Pause",
    "stop": "Stop",
    "pain": "Pain",
    "resume": "Resume",
    "end_session": "End session",
    # Paused ------------------------------------------------------------------------------------
    "paused_title": "Paused",
    "paused_hint": "The belt is stopped. Tap Resume when you are ready.",
    # Cue mode (no treadmill link): the station cannot stop or set the belt; the person does.
    "paused_hint_cue": "Press STOP on the treadmill. Tap Resume when you are ready.",
    "rails_hint_cue": "You let go too early. Press STOP on the treadmill now.",
    "turn_hint_cue": "Press STOP on the treadmill. Turn to walk {direction}, then hold the rails.",
    "fault_what_cue": "Press STOP on the treadmill. Please call staff.",
    "cue_set_here": "Set the treadmill to this",
    "cue_set_speed": "Set the treadmill to {speed} {unit}, incline {incline} percent",
    "cue_stop": "Press stop on the treadmill now",
    "sensor_title": "CHECK THE RAIL SENSOR",
    "sensor_hint": "Paused: a rail sensor looks stuck or broken, so a release might not be seen. "
                   "Staff: open the sensor test. Resume only when it reads right.",
    "rails_title": "HOLD THE RAILS",
    "rails_hint": "You let go too early. The belt has been told to stop.",
    "rails_hold": "Keep holding… {percent} %",
    "rails_take": "Take both rails to continue",
    "link_title": "TREADMILL NOT ANSWERING",
    "link_hint": "The belt has been told to stop. Step onto the side rails.",
    "link_todo": "Check the treadmill cable. Resume stays locked until it answers again.",
    "link_back": "The treadmill answers again. Tap Resume when ready.",
    "turn_title": "TURN AROUND",
    "turn_hint": "The belt is stopping. Turn to walk {direction}, then hold the rails.",
    # Emergency stop / fault --------------------------------------------------------------------
    "estop_title": "EMERGENCY STOP",
    "estop_what": "The safety lanyard was pulled. The belt has been stopped.",
    "estop_todo_1": "1. Stand on the side rails, off the belt.",
    "estop_todo_2": "2. Clip the lanyard back in.",
    "estop_todo_3": "3. Tap Confirm when you are safe.",
    "estop_confirm": "Confirm: I am safe",
    "estop_clip_first": "Clip the lanyard first",
    "fault_title": "STATION FAULT",
    "fault_what": "The belt has been stopped. Please call staff.",
    "intent_refused": "That button does nothing here. Please tell staff.",
    "fault_detail": "Detail: {detail}",
    "fault_confirm": "Confirm",
    # Cool-down / summary -----------------------------------------------------------------------
    "cooldown_title": "KEEP WALKING BACKWARD",
    "cooldown_hint": "until the belt stops completely.",
    "cooldown_belt": "Belt now: {speed} {unit}",
    "cooldown_done": "Belt has stopped",
    "outcome_completed": "Program complete. Well done!",
    "outcome_stopped": "Session stopped",
    "outcome_emergency_stop": "Session ended by the emergency stop",
    "outcome_interrupted": "Session interrupted",
    "summary_title": "Summary",
    "summary_time": "Time {clock}",
    "summary_distance": "Distance {distance}",
    "summary_distance_none": "Distance not measured",
    "summary_pauses": "Pauses {count}",
    "summary_steps": "Stages {done} of {total}",
    "summary_chart": "Speed ({unit}) and incline (%) over time",
    "summary_no_samples": "No speed samples were recorded",
    "summary_pain": "Pain now? 0 = none, 10 = worst",
    "summary_pain_saved": "Saved: pain {score}",
    "summary_done": "Done",
    "legend_speed": "speed",
    "legend_incline": "incline",
    # History -----------------------------------------------------------------------------------
    "history_title": "History: {name}",
    "history_everyone": "everyone",
    "history_empty": "No sessions yet",
    "history_week_chart": "Minutes per week",
    "history_top_speed": "Top speed {speed} {unit}",
    "history_row": "{date}  {program}  {minutes} min  {status}",
    "history_summary": Plural("{sessions} session · {minutes} min · top {speed} {unit}",
                              "{sessions} sessions · {minutes} min · top {speed} {unit}", "sessions"),
    "chart_tab_sessions": "Sessions",
    "chart_tab_minutes": "Minutes",
    "chart_tab_speed": "Speed",
    "chart_tab_pain": "Pain",
    "chart_tab_hands_free": "Hands-free",
    "chart_tab_list": "List",
    "row_pain": "pain {before}→{after}",
    "row_hands_free": "{percent} % hands-free",
    "chart_sessions_title": Plural("Sessions per week (this week)", "Sessions per week (last {weeks} weeks)", "weeks"),
    "chart_minutes_title": Plural("Minutes walked per week (this week)", "Minutes walked per week (last {weeks} weeks)",
                                  "weeks"),
    "chart_speed_title": Plural("Top backward speed ({unit}), last session",
                                "Top backward speed ({unit}), last {count} sessions", "count"),
    "chart_pain_title": Plural("Pain 0-10 before and after, last session", "Pain 0-10 before and after, last {count} sessions",
                               "count"),
    "chart_hands_free_title": Plural("Hands-free share of walking time (%), last session",
                                     "Hands-free share of walking time (%), last {count} sessions", "count"),
    "chart_goal": "goal {goal} a week",
    "chart_week_of": "week of {date}",
    "chart_x_sessions": "each session, oldest to newest",
    "legend_pain_before": "before",
    "legend_pain_after": "after",
    "export_chart_title": "Backstep history: {name}",
    "export_chart_span": "{first} to {last}",
    "export_chart_note": "Every chart starts at zero. Pain is on its full 0-10 scale and the hands-free "
                         "share on 0-100 %. Weeks start on Monday; empty weeks are shown.",
    # Next time (progression suggestion) ----------------------------------------------------------
    "next_title": "Next time, {name}",
    "next_plan": "{speed} {unit} · {minutes} min · incline {incline} %",
    "next_now": "This time: {speed} {unit} · {minutes} min · incline {incline} %",
    "next_therapist": "Your therapist decides: this is a suggestion.",
    "next_none": "No suggestion yet",
    "next_show": "Next ›",
    "action_raise": "Step up",
    "action_hold": "Hold",
    "action_step_back": "Step back",
    "action_lower": "Lower to the limit",
    "action_start": "Starting dose",
    # Member search ---------------------------------------------------------------------------------
    "member_search": "Find by code",
    "search_title": "Type your code",
    "search_typed": "Code: {code}",
    "search_empty": "Tap the letters and digits of your code",
    "search_none": "No member with this code",
    "search_back": "⌫",
    "search_page": "{label} ›",
    "home_prescribed": "Prescribed for {name}",
    # Staff members ----------------------------------------------------------------------------------
    "staff_members": "Members",
    "members_title": "Members",
    "members_none": "No members yet.",
    "members_add_hint": "+ New adds a member here; or at a console: backstep members add NAME --code K7 --goal 3",
    "member_hands_free": "Hands-free: {state}",
    "member_open": "{name}",
    "member_row": "{name} · code {code}",
    "rx_title": "{name}: next session",
    "rx_status_pending": "Suggested (not decided yet)",
    "rx_status_accepted": "Accepted by {by}",
    "rx_status_overridden": "Set by hand by {by}",
    "rx_speed": "Speed {value} {unit}",
    "rx_minutes": "{value} min",
    "rx_incline": "Incline {value} %",
    "rx_accept": "Accept",
    "rx_save": "Save my values",
    "rx_limit": "Therapist's limits: up to {speed} {unit}, {minutes} min, incline {incline} %",
    "rx_saved": "Saved",
    "staff_by": "staff (kiosk)",
    "staff_add": "+ New",
    "add_title": "New member",
    "add_empty": "Type a pseudonym or code",
    "add_hint": "It is their name on screen and their search code (1-12 letters, digits or -). "
                "Caps, limits, goal and prescription: backstep members set ID at a console.",
    "add_units": "Units: {unit}",
    "units_mph": "mph",
    "units_kmh": "km/h",
    "add_create": "Create",
    "add_done": "Added {name}: hands-free is off until you turn it on",
    "status_completed": "done",
    "status_stopped": "stopped",
    "status_emergency_stop": "e-stop",
    "status_interrupted": "interrupted",
    "status_running": "running",
    # Export ------------------------------------------------------------------------------------
    "export_title": "Export to USB stick",
    "export_no_stick": "Insert a USB stick to export the session logs.",
    "export_detected": "USB stick found: {name}",
    "export_start": "Export now",
    "export_running": "Exporting… {percent} %",
    "export_done": "Done. It is safe to remove the stick.",
    "export_done_count": Plural("{count} session written", "{count} sessions written", "count"),
    "export_error": "Export failed",
    "export_error_full": "The stick is full. Use a stick with more free space.",
    "export_error_readonly": "The stick is write-protected. Unlock it or use another stick.",
    "export_error_removed": "The stick was removed during the export. Nothing was left half-written.",
    "export_error_other": "Something went wrong writing to the stick.",
    # Staff -------------------------------------------------------------------------------------
    "pin_title": "Staff PIN",
    "pin_wrong": "Wrong PIN",
    "pin_locked": "Too many tries. Wait {seconds} s",
    "pin_clear": "Clear",
    "pin_cancel": "Cancel",
    "set_pin_title": "Set a staff PIN",
    "set_pin_first": "This station still has the factory PIN 0000. Choose a staff PIN of 4 to 8 digits.",
    "set_pin_again": "Type the same PIN again.",
    "set_pin_length": "A staff PIN has 4 to 8 digits.",
    "set_pin_factory": "0000 is the factory PIN everyone knows. Choose another.",
    "set_pin_differ": "The two PINs differ. Start again.",
    "set_pin_failed": "The PIN could not be saved. Call the installer.",
    "staff_title": "Staff",
    "staff_sensors": "Sensor test",
    "staff_programs": "Programs",
    "staff_export": "Export",
    "staff_settings": "Settings",
    "staff_exit": "Exit to desktop",
    "staff_lock": "Lock",
    "sensors_title": "Sensor test (live)",
    "sensor_belt": "Belt speed",
    "sensor_unknown": "unknown",
    "programs_title": "Programs",
    "program_row": Plural("{name} · {minutes} min · {phases} stage · {id}", "{name} · {minutes} min · {phases} stages · {id}",
                          "phases"),
    "settings_title": "Settings",
    "setting_sound": "Sound: {state}",
    "setting_speech": "Speech: {state}",
    "setting_volume": "Volume {percent} %",
    "setting_on": "on",
    "setting_off": "off",
    "setting_screen": "Screen {width} x {height}",
    "setting_config": "Config: {source}",
    # Said by the core (Say effects): shown as a banner and spoken when speech is on -------------
    "hold_the_rails": "Hold the rails",
    "turn_around": "Turn around: walk {direction} next",
    "cooldown": "Keep walking backward until the belt stops",
    "link_lost": "Treadmill link lost. The belt is stopping",
    "link_restored": "Treadmill link restored",
    "start_refused": "Cannot start: {reasons}",
    "resume_refused": "Cannot resume: {reasons}",
    "clip_lanyard_first": "Clip the lanyard first",
    "pain_stop": "Stopped because of pain. Keep walking backward until the belt stops",
    "sensor_fault": "Check the rail sensors: {message}",
    # Reasons the core gives for a refusal.
    "reason_lanyard_not_clipped": "clip the lanyard",
    "reason_rails_not_held": "hold the rails",
    "reason_treadmill_link_lost": "the treadmill is not answering",
    "direction_backward": "backward",
    "direction_forward": "forward",
    # Spoken only (app.ui.announce): what a person facing away from the screen must hear ---------
    "speak_estop": "Emergency stop",
    "speak_fault": "Station fault",
    "speak_paused": "Paused",
    "speak_turn_soon": "In {seconds} seconds, turn around to walk {direction}",
    "speak_start_in": "Starting in {seconds}",
    "speak_resume_in": "Resuming in {seconds}",
    "speak_belt": "Walk {direction}. Speed {speed} {unit}",
    "speak_belt_incline": "Walk {direction}. Speed {speed} {unit}, incline {incline} percent",
    "speak_volume": "Volume {percent} percent",
    "spoken_mph": "miles per hour",
    "spoken_kmh": "kilometres per hour",
}

# The progression rules' reasons (app.core.progression_reasons.REASONS): their keys are catalogue keys
# too, so a translation of this catalogue covers what the suggestion screens say.
CATALOGUE.update({key: words for key, words in REASONS.items() if key not in CATALOGUE})

#: Keys the core can send in ``Say`` effects (kept in step with app.core.safety).
SAY_KEYS = ("hold_the_rails", "turn_around", "cooldown", "link_lost", "link_restored", "start_refused",
            "resume_refused", "clip_lanyard_first", "pain_stop", "sensor_fault")


class _Lenient(dict):
    """Leave an unknown ``{name}`` visible instead of raising: a bad translation must not crash."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_translation: gettext.NullTranslations = gettext.translation(DOMAIN, LOCALE_DIR, fallback=True)


def set_language(language: str | None) -> None:
    """Show and speak *language* (``"de"``, ``"pt_BR"``); None: from the environment, as at start.
    A language without a compiled translation falls back to the English source strings."""
    global _translation
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language] if language else None, fallback=True)


def _count(value) -> int:
    try:
        return abs(int(value))
    except (TypeError, ValueError):
        return 2  # not a number: the plural form reads least wrong


def t(key: str, **params) -> str:
    """The text for *key*, with *params* filled in. An unknown key shows as itself, never raises."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    if isinstance(entry, Plural):
        template = _translation.ngettext(entry.singular, entry.plural, _count(params.get(entry.count)))
    else:
        template = _translation.gettext(entry)
    if not params:
        return template
    try:
        return template.format_map(_Lenient(params))
    except (ValueError, IndexError):
        return template


def reason_text(reason: str) -> str:
    """A refusal reason from the core ("rails not held") in catalogue words."""
    key = "reason_" + reason.replace(" ", "_")
    return t(key) if key in CATALOGUE else reason


def reason_words(reason) -> str:
    """A progression reason ``(key, params, text)`` in catalogue words (the text if the key is unknown)."""
    key, params, text = reason
    return t(key, **params) if key in CATALOGUE else text


def say_text(key: str, params: dict | None = None) -> str:
    """The words for a core ``Say`` effect."""
    params = dict(params or {})
    if "reasons" in params:
        params["reasons"] = ", ".join(reason_text(r) for r in params["reasons"])
    if "direction" in params:
        params["direction"] = t("direction_" + str(params["direction"]))
    return t(key, **params)
