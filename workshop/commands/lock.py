"""`python -m workshop lock`: write constraints.txt, every package the workshop installs
(transitive ones included) at one exact version, from the pins in pyproject.toml.

uv resolves for every platform at once (--universal), so a package only Windows or macOS
needs gets its line too, with a marker. The bootstrap and the steps' set-up install with
`-c constraints.txt`: the same versions on every laptop in the room, whatever PyPI
published that morning. Run it after changing a pin, and commit both files.
"""

from __future__ import annotations

import subprocess
import sys

from ..manifest import REPO_ROOT
from ..pins import CONSTRAINTS, optional_dependency_groups

LOCK_COMMAND = "python -m workshop lock"


def uv_compile_command() -> list[str]:
    """uv's resolver over pyproject.toml with every extra, written to constraints.txt."""
    command = [sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", "--universal"]
    for extra in optional_dependency_groups():
        command += ["--extra", extra]
    return command + [
        "--output-file",
        CONSTRAINTS.name,
        "--custom-compile-command",
        LOCK_COMMAND,
        "--quiet",
    ]


def write_lock() -> int:
    code = subprocess.call(uv_compile_command(), cwd=REPO_ROOT)
    if code == 0:
        print(f"[workshop] wrote {CONSTRAINTS}: commit it with pyproject.toml.")
    else:
        print(
            "[workshop] uv could not resolve the pins (see above). It needs PyPI: check the "
            "network, or the pins in pyproject.toml that uv names.",
            file=sys.stderr,
        )
    return code
