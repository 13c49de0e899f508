"""``python -m app``: the same as the ``backstep`` command (the composition root is app.cli)."""

import sys

from .cli import main

sys.exit(main())
