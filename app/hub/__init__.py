"""The clinic hub: one PostgreSQL database shared by several stations (docs/hub.md).

Optional: nothing here is imported on a station without ``[hub]`` in its config, and psycopg
(``pip install 'backstep[hub]'``) is needed only then. The station's SQLite file stays the source
of truth for its own sessions; :mod:`app.hub.sync` copies them up and the clinic's members down,
beside the kiosk, never in its safety loop.
"""
