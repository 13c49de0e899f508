"""The session database's schema version, apart from the migrations that reach it.

The store reads it on every start to know whether anything needs migrating; the migrations
themselves (:mod:`app.shell.migrations`) need sqlite-utils, which a start that has nothing to
migrate does not import (docs/database.md).
"""

#: Bumped with every migration of the session schema (:mod:`app.shell.migrations`) and of the
#: links between the schema sets (:mod:`app.shell.migrations_links`); a file with a higher number
#: comes from a newer Backstep. tests/test_store.py checks it counts those migrations.
#: 2: foreign keys to members and sessions.
SCHEMA_VERSION = 2
