"""The station's hardware bundle: the station, its sensors, the treadmill link, the simulation
and the sim-control socket, built from the config and closed in reverse."""

from __future__ import annotations

import logging
import time

from ..core.effects import SetBelt, StopBelt
from ..errors import UserError
from ..shell.devices import attach_sensors, attach_treadmill, simulated_station
from ..shell.station import Station

log = logging.getLogger("backstep.kiosk")


class Rig:
    """Everything outside the UI: station, sensors, treadmill link, simulation. Closed in reverse.

    :param config: the station config.
    :param store: where sessions go, or ``None``.
    :param sim: build the simulated station (gpiozero MockFactory pins, the treadmill simulator).
    :param sim_control: with *sim*: the path of a sim-control socket to open.
    :param clock: the station's monotonic clock (a demo passes its script clock).
    :param on_end: called on ``end`` from the sim-control socket.
    :param keep_stats: keep each closed session's stats from the start; ``False`` leaves it to a
        later :meth:`keep_stats` (the kiosk's, after READY=1: it brings sqlite-utils and the history
        module, which the first frame does not need).
    """

    def __init__(self, config, store=None, *, sim: bool = False, sim_control: str | None = None,
                 clock=time.monotonic, on_end=None, keep_stats: bool = True):
        self.config = config
        self.sim = None
        self.sensors = None
        self.link = None
        self.server = None
        self.cable_pulled = False  # the simulated treadmill cable, toggled by the C key
        self.extras: list = []     # more things to close with the station (the USB watcher)
        if sim_control and not sim:
            raise UserError("--sim-control needs --sim (it drives the simulated station)")
        treadmill = None
        if sim:
            self.sim = simulated_station(config)
        self.station = Station(config, store, clock=clock, link=None)
        post = self.station.post
        try:
            factory = self.sim.pin_factory if self.sim else None
            self.sensors = attach_sensors(config, post, factory)
            if self.sim:
                self.sim.resync()
            port = self.sim.treadmill_port if self.sim else None
            if config.treadmill.mode == "csafe":
                self.link = attach_treadmill(config, post, port=port, sensors=self.sensors)
                treadmill = self.link
        except Exception as exc:
            self.close()
            raise UserError(f"cannot start the station hardware: {exc}") from None
        if treadmill is not None:
            self.station.attach_treadmill(treadmill)
        elif self.sensors is not None and self.sensors.belt is None:
            # Cue mode with no belt sensor: nothing reports the belt, so the rails' stuck-sensor
            # check learns from what the station commands (the person sets the speed by hand).
            self.station.add_listener(belt_commands_to_rails(self.sensors.rails))
        self.store = store
        self._keeping_stats = False
        if keep_stats:
            self.keep_stats()
        if sim_control:
            from ..shell.simcontrol import SimControlServer  # only a scripted simulation has one

            try:
                self.server = SimControlServer(sim_control, self.sim, post, on_end=on_end,
                                               status=lambda: self.station.view().status_line,
                                               settled=self.sensors.wait_settled).start()
            except BaseException:
                self.close()
                raise

    def keep_stats(self) -> None:
        """Keep each closed session's stats (hands-free share, early releases, top speed) at once,
        so the history screen and the suggestion after the session can use them. Once; on the
        thread that owns the station (it adds a listener and may migrate the store)."""
        if self.store is None or self._keeping_stats:
            return
        from ..shell.history import attach_stats

        attach_stats(self.station, self.store)
        self._keeping_stats = True

    def close(self) -> None:
        for part in (*self.extras, self.server, self.link, self.sensors, self.sim):
            closer = getattr(part, "close", None)
            if closer is not None:
                try:
                    closer()
                except Exception as exc:  # noqa: BLE001
                    log.warning("closing %s: %s", type(part).__name__, exc)


def belt_commands_to_rails(rails):
    """A station listener for cue mode: ``SetBelt`` (speed above zero) tells the rail sensors the
    belt is running, ``StopBelt`` that it is not (their stuck-sensor check needs to know)."""
    def on_effect(effect) -> None:
        if isinstance(effect, SetBelt):
            rails.note_belt_running(effect.speed_kmh > 0)
        elif isinstance(effect, StopBelt):
            rails.note_belt_running(False)

    return on_effect


def sim_key(rig: Rig, key) -> bool:
    """Keyboard drive of the simulated person: L lanyard, R rails, C cable. True when used."""
    import pygame  # the kiosk's keyboard; the rest of the rig runs without pygame

    sim = rig.sim
    if sim is None:
        return False
    try:
        if key == pygame.K_l:
            sim.pull_lanyard() if sim.lanyard_clipped else sim.clip_lanyard()
        elif key == pygame.K_r:
            sim.release_rails() if all(sim.rails_held) else sim.hold_rails()
        elif key == pygame.K_c and sim.treadmill is not None:
            sim.plug_cable() if rig.cable_pulled else sim.pull_cable()
            rig.cable_pulled = not rig.cable_pulled
        else:
            return False
    except Exception as exc:  # noqa: BLE001 - a sim hiccup is a message, not a crash
        log.warning("simulation: %s", exc)
    return True
