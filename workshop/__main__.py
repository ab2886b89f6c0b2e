"""`python -m workshop ...`: set up the environment if needed, then run the command."""

import sys

from .bootstrap import ensure_environment

ensure_environment(sys.argv[1:])

from .cli import main  # noqa: E402  (needs the packages the bootstrap installs)

try:
    sys.exit(main(sys.argv[1:]))
except KeyboardInterrupt:
    # Ctrl-C is how every command is stopped: one line, not a traceback.
    print("\n[workshop] Stopped (Ctrl-C).", file=sys.stderr, flush=True)
    sys.exit(130)
