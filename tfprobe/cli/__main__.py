"""``python -m tfprobe.cli``."""

import sys

from tfprobe.cli import main

sys.exit(main())
