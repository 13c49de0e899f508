"""The session database's schema version, apart from the migrations that reach it.

The store reads it on every start to know whether anything needs migrating; the migrations
themselves (:mod:`app.shell.schema`) need sqlite-utils, which a start that has nothing to
migrate does not import (docs/database.md).
"""

#: Bumped with every migration the store applies (:func:`app.shell.schema.apply_schema`): the
#: sessions set and the links between the sets; a file with a higher number comes from a newer
#: Backstep. tests/test_schema.py checks it counts those migrations.
#: 2: foreign keys to members and sessions.
SCHEMA_VERSION = 2
