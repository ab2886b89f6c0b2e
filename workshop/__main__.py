"""`python -m workshop ...`: set up the environment if needed, then run the command."""

import sys

from .bootstrap import ensure_environment

ensure_environment(sys.argv[1:])

from .cli import main  # noqa: E402  (needs the packages the bootstrap installs)

sys.exit(main(sys.argv[1:]))
