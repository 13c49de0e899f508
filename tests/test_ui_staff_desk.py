"""The staff desk (app.ui.staff_desk) on its own, over the in-memory StationData: the code pad, a new
member, the prescription, and a store error as one line on the page."""

from __future__ import annotations

from test_ui_members import ALEX, SAM, suggestion
from test_ui_support import program

from app.ui.data import DoseData, MemberInfo, StaticData
from app.ui.scenes import Overlay, UiState
from app.ui.scenes.choose import SEARCH_PAGES
from app.ui.staff_desk import CODE_MAX, StaffDesk
from app.ui.text import t


def desk_with(**data) -> tuple[StaffDesk, StaticData]:
    static = StaticData([program()], [ALEX, SAM], codes={1: "A1", 2: "S7"}, **data)
    return StaffDesk(UiState(), static), static


def test_the_code_pad_types_deletes_and_pages_through_its_keys():
    desk, _ = desk_with()
    desk.ui.overlay = Overlay.MEMBER_SEARCH
    desk.type_key("A")
    assert desk.ui.search_results == [ALEX, SAM]  # Alex's code, and the a in Sam
    desk.type_key("1")
    assert desk.ui.search_results == [ALEX]
    for _ in range(CODE_MAX + 3):
        desk.type_key("1")
    assert len(desk.ui.search) == CODE_MAX and desk.ui.search_results == []
    desk.delete_key()
    assert len(desk.ui.search) == CODE_MAX - 1
    seen = []
    for _ in range(len(SEARCH_PAGES)):
        desk.next_keys()
        seen.append(desk.ui.search_keys)
    assert sorted(seen) == list(range(len(SEARCH_PAGES)))  # every page once, then back to the first


def test_typing_a_new_members_code_does_not_search():
    desk, _ = desk_with()
    desk.ui.overlay = Overlay.STAFF_ADD
    desk.type_key("A")
    assert desk.ui.search == "A" and desk.ui.search_results == []


def test_a_new_member_needs_a_code_and_a_free_one():
    desk, static = desk_with()
    assert desk.add_member() is None and static.member_list == [ALEX, SAM]
    desk.ui.search = "a1"
    assert desk.add_member() is None
    assert desk.ui.staff_message == "code: 'a1' is already used; pick another"
    desk.ui.search = "R4"
    desk.toggle_units()
    added = desk.add_member()
    assert added in static.member_list and (added.name, added.units) == ("R4", "kmh")
    assert desk.ui.staff_message == ""


def test_accepting_updates_the_walkers_prescribed_program():
    rx = program()
    desk, static = desk_with(suggestions={1: suggestion()}, prescribed={1: rx})
    desk.ui.member = ALEX
    desk.open_member(MemberInfo(ALEX, "A1"))
    assert desk.ui.overlay is Overlay.STAFF_MEMBER and desk.ui.staff_dose == DoseData(1.1, 5, 0)
    desk.step_dose("speed", 0.1)
    assert desk.ui.staff_dose == DoseData(1.2, 5, 0)
    assert desk.accept()
    assert static.suggestions[1].status == "accepted" and desk.ui.staff_message == t("rx_saved")
    assert desk.ui.staff_dose == DoseData(1.1, 5, 0)  # the accepted dose, not the one being edited
    assert desk.ui.member_program == rx


def test_nothing_to_decide_without_an_open_member():
    desk, static = desk_with(suggestions={1: suggestion()})
    assert not desk.accept() and not desk.override()
    assert static.suggestions[1].status == "pending"


def test_a_store_error_is_the_default_and_one_line():
    desk, _ = desk_with()

    def broken():
        raise OSError("database is locked\nretry later")

    assert desk.ask(broken, default=[]) == []
    assert desk.ui.staff_message == "database is locked"
    assert desk.ask(lambda: 42) == 42
