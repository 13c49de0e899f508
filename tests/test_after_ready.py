"""Start-up work left until after READY=1 (app.kiosk.after_ready) never holds a stop back: its slow
part runs on a worker thread, and what must run on the loop runs one short step per pass, after
the station's events (docs/safety.md, rule 2; docs/architecture.md, "Start-up")."""

from __future__ import annotations

import threading

from test_ui_run import display  # noqa: F401 - the fixture: a real pygame window (SDL dummy driver)
from test_ui_support import make_kiosk

from app.config import Config
from app.core.events import LanyardClipped, LanyardPulled
from app.kiosk.after_ready import AfterReady
from app.kiosk.mainloop import Waker, loop
from app.shell.station import Station


def station_and_kiosk():
    station = Station(Config())
    kiosk, _ = make_kiosk()
    station.add_listener(kiosk.on_effect)
    waker = Waker()
    station.wakeup = waker.wake
    station.post(LanyardClipped())
    return station, kiosk, waker


def stop_when_done(work: AfterReady, stop: list, waker: Waker) -> None:
    def watch() -> None:
        work.done.wait(20)
        stop.append(True)
        waker.wake()

    threading.Thread(target=watch, daemon=True).start()


def test_a_lanyard_pull_right_after_ready_is_handled_while_the_deferred_work_is_still_running(display):
    """The deferred work is held on an event the test controls: the pull must be on screen first."""
    station, kiosk, waker = station_and_kiosk()
    gate = threading.Event()
    finished = []
    work = AfterReady(waker.wake)
    work.add("held by the test", prepare=lambda: gate.wait(20), finish=lambda: finished.append(True))
    drawn_while = []  # (deferred work released?, deferred work finished?) when the pull was drawn

    def on_frame(n):
        if n == 1:
            station.post(LanyardPulled())  # READY=1 goes out in this same pass
        elif kiosk.view.lanyard_clipped is False and not drawn_while:
            drawn_while.append((gate.is_set(), bool(finished)))
            gate.set()

    stop: list = []
    stop_when_done(work, stop, waker)
    loop(station, kiosk, display, None, stop, on_frame=on_frame, waker=waker, after_ready=work)
    assert drawn_while == [(False, False)], "the lanyard pull waited for the deferred work"
    assert finished == [True] and work.done.is_set()


def test_a_stop_posted_during_a_deferred_step_is_handled_before_the_next_step(display):
    station, kiosk, waker = station_and_kiosk()
    clipped_at_step = []

    def finish():
        station.post(LanyardPulled())  # arrives while the loop is busy with this step
        clipped_at_step.append(station.view().lanyard_clipped)
        yield
        clipped_at_step.append(station.view().lanyard_clipped)
        yield

    work = AfterReady(waker.wake)
    work.add("two steps", finish=finish)
    stop: list = []
    stop_when_done(work, stop, waker)
    loop(station, kiosk, display, None, stop, waker=waker, after_ready=work)
    assert clipped_at_step == [True, False], "the loop ran the next step before the lanyard pull"


def test_jobs_run_in_order_and_a_failing_one_is_logged_not_fatal(display, caplog):
    station, kiosk, waker = station_and_kiosk()
    ran = []

    def broken():
        raise RuntimeError("boom")

    work = AfterReady(waker.wake)
    work.add("first", prepare=lambda: ran.append("prepare 1"), finish=lambda: ran.append("finish 1"))
    work.add("broken", prepare=broken, finish=lambda: ran.append("never"))
    work.add("third", finish=lambda: ran.append("finish 3"))
    stop: list = []
    stop_when_done(work, stop, waker)
    loop(station, kiosk, display, None, stop, waker=waker, after_ready=work)
    assert ran == ["prepare 1", "finish 1", "finish 3"]
    assert "preparing broken failed" in caplog.text


def kiosk_on(store):
    """The simulated station's rig and a kiosk on *store*, as the kiosk starts them (the member store
    left for after READY=1): (rig, data, kiosk, waker)."""
    from app.kiosk.data import StoreData
    from app.kiosk.rig import Rig

    rig = Rig(Config(), store, sim=True, keep_stats=False)
    data = StoreData([], store, lazy=True)
    kiosk, _ = make_kiosk(data=data)
    rig.station.add_listener(kiosk.on_effect)
    waker = Waker()
    rig.station.wakeup = waker.wake
    return rig, data, kiosk, waker


def run_until_done(display, rig, kiosk, waker, work: AfterReady) -> None:
    stop: list = []
    stop_when_done(work, stop, waker)
    loop(rig.station, kiosk, display, None, stop, rig, waker=waker, after_ready=work)


def test_the_kiosk_opens_the_member_store_and_keeps_stats_after_ready(display, tmp_path):
    """The kiosk's own deferred work: before it, the member store is not open and nothing watches
    for USB sticks; after it, both are (the first start's migrations already made every table)."""
    from app.kiosk.app import after_ready
    from app.kiosk.usb_export import UsbExport
    from app.shell.store import Store

    store = Store(tmp_path / "b.db")
    (tmp_path / "mountinfo").write_text("")
    export = UsbExport(Config(), tmp_path / "b.db", mountinfo=str(tmp_path / "mountinfo"), watch=False)
    rig, data, kiosk, waker = kiosk_on(store)
    try:
        opened_before = data._opened
        watching_before = export.watcher is not None
        work = after_ready(waker, kiosk, rig, data, export)
        run_until_done(display, rig, kiosk, waker, work)
        after = set(store.db.table_names())
        opened_after = data._opened
    finally:
        export.close()
        rig.station.shutdown()
        rig.close()
        store.close()
    assert not opened_before and opened_after
    assert {"members", "session_stats"} <= after
    assert not watching_before and export.watcher is not None, "the USB stick watcher never started"
    assert work.done.is_set()


def test_the_kiosk_checks_the_whole_database_after_ready_and_staff_see_what_it_found(display, tmp_path, caplog):
    """The kiosk's open before READY=1 leaves the history unread; its full check after READY=1 finds
    the damage there: a line in the journal, the marker beside the file for the next start, and the
    store's notice on the staff Sensors page (docs/database.md, "Damaged or newer files")."""
    import logging

    import pygame
    from test_export_fixtures import make_bulk
    from test_store_check import damage_a_samples_page

    from app.kiosk.app import after_ready
    from app.shell.db_check import damage_marked
    from app.shell.store import Store
    from app.ui.intents import Intent, IntentKind, Overlay

    path = tmp_path / "b.db"
    make_bulk(path, 20, 600)
    damage_a_samples_page(path)
    store = Store(path, full_check=False)
    rig, data, kiosk, waker = kiosk_on(store)
    try:
        note_before = data.database_note()
        work = after_ready(waker, kiosk, rig, data)
        with caplog.at_level(logging.ERROR):
            run_until_done(display, rig, kiosk, waker, work)
        kiosk.staff_unlocked = True
        kiosk.act(Intent(IntentKind.OPEN, Overlay.SENSORS))
        kiosk.render(pygame.Surface((800, 480)))  # the note draws under the sensors at the smallest screen
    finally:
        rig.station.shutdown()
        rig.close()
        store.close()
    assert work.done.is_set()
    assert note_before == ""
    assert "the database is damaged" in kiosk.ui.database_note and "next start" in kiosk.ui.database_note
    assert any("the database is damaged" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert "the database is damaged" in damage_marked(path)
