"""``python -m flowkit``."""

import sys

from flowkit.cli import main

sys.exit(main())
