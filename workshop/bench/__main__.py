"""`python -m workshop.bench`: the benchmark without the rest of the command line."""

import sys

from .cli import main

sys.exit(main())
