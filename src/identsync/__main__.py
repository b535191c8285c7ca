"""`python -m identsync ...` is the `identsync` command."""

import sys

from identsync.cli import main

sys.exit(main())
