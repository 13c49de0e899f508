"""The session database's schema version, apart from the migrations that reach it.

The store reads it on every start to know whether anything needs migrating; the migrations
themselves (:mod:`app.shell.migrations`) need sqlite-utils, which a start that has nothing to
migrate does not import (docs/database.md).
"""

#: Bumped with every migration in :mod:`app.shell.migrations`; a file with a higher number comes
#: from a newer Backstep. tests/test_store.py checks it counts the migrations.
SCHEMA_VERSION = 1
