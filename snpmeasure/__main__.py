"""``python -m snpmeasure``: the same as the ``snpmeasure`` command."""

import sys

from .cli import main

sys.exit(main())
