"""``python -m scenarios.cli`` is ``raftsim``."""

import sys

from scenarios.cli import main

sys.exit(main())
