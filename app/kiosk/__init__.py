"""The kiosk runtime: what ``backstep run`` runs on the station's touchscreen.

- :mod:`app.kiosk.app`: :class:`~app.kiosk.app.KioskApp`, the process: display, store, rig, loop.
- :mod:`app.kiosk.mainloop`: the main loop (the one thread that owns state) and its waker.
- :mod:`app.kiosk.after_ready`: start-up work left until READY=1, kept off the safety loop.
- :mod:`app.kiosk.rig`: the station's hardware bundle: station, sensors, treadmill link, simulation.
- :mod:`app.kiosk.data`: the bridge from stored data (programs, members, history) to screen data.
- :mod:`app.kiosk.usb_export`: the Export screen's controller: stick watcher and export job.
- :mod:`app.kiosk.charts`: a member's history chart as PNG bytes (the kiosk's and the export's).

It joins the layers, so it may import :mod:`app.core`, :mod:`app.shell`, :mod:`app.ui`,
:mod:`hardware` and the top-level helpers (config, errors, paths), never :mod:`app.commands`.
"""
