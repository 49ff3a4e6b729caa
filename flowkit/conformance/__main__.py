"""``python -m flowkit.conformance [DIR]``."""

import sys

from flowkit.conformance import main

sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
