"""Whatever a test run leaves in the temporary directory, found and named.

`workshop test` points TMPDIR (TEMP, TMP on Windows) of pytest, and so of every Daphne,
redis-server, Chromium and Jupyter kernel it starts, at a folder of its own. pytest's
own tmp_path folders belong there; anything else is something a test or a tool forgot
to remove. The folder is kept between runs (pytest keeps its last three basetemps).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import pathlib
import shutil
import tempfile

from .manifest import REPO_ROOT


def run_temp_dir() -> pathlib.Path:
    """<system temp>/cw-tests-<hash of this checkout>: one per clone. Short: Chromium puts a
    Unix socket below it, and a socket path may not pass 107 bytes."""
    checkout = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]
    return pathlib.Path(tempfile.gettempdir()) / f"cw-tests-{checkout}"


def _pytest_basetemp_root() -> str:
    """The folder pytest keeps its tmp_path folders in (pytest-of-USER)."""
    try:
        user = getpass.getuser()
    except (ImportError, KeyError, OSError):
        user = "unknown"
    return f"pytest-of-{user}"


TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")  # TEMP and TMP on Windows


def temp_dir_env(folder: pathlib.Path | str) -> dict[str, str]:
    """Environment variables that give a process `folder` as its temp folder."""
    return dict.fromkeys(TEMP_VARIABLES, str(folder))


@contextlib.contextmanager
def watched_temp_dir(env: dict[str, str], folder: pathlib.Path | None = None):
    """Point env's temp variables at `folder` (run_temp_dir()); yields a list that, after
    the block, names what was left there (pytest's own folder aside). The leftovers are
    removed."""
    folder = folder or run_temp_dir()
    folder.mkdir(exist_ok=True)
    keep = _pytest_basetemp_root()
    for stale in folder.iterdir():  # from a run that was killed
        if stale.name != keep:
            _remove(stale)
    env.update(temp_dir_env(folder))
    leftovers: list[str] = []
    try:
        yield leftovers
    finally:
        for entry in sorted(folder.iterdir()):
            if entry.name != keep:
                leftovers.append(entry.name)
                _remove(entry)


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
