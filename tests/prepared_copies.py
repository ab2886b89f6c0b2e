"""Copies of a step whose database is ready: migrated and, on a step with users, holding
the test accounts.

`manage.py migrate` and creating the accounts (each password hashed the slow way Django
means it to be) cost about three seconds of CPU per copy, and a whole run makes dozens
of copies of the same ten folders. So each folder is prepared once per test session, in
a template that every pytest-xdist worker of the session shares, and each copy after
that is a plain copy of the template: the same files, the same database file.

Workers take turns through a lock file (fcntl); where there is no fcntl (Windows), each
worker keeps templates of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import shutil
from collections.abc import Callable, Iterator

from workshop.step_server import copy_project

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

READY = ".prepared"  # written into a template's folder once it is complete


def shared_temp_dir(session_temp: pathlib.Path) -> pathlib.Path:
    """A folder every worker of this test session sees: the parent of a worker's own
    temp folder under xdist (pytest-N/popen-gwK), else the session's."""
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        return session_temp.parent
    return session_temp


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    with open(path, "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


class PreparedCopies:
    """Copies of project folders, each prepared once by `prepare(copy)` in a template.

    prepare is told the template's project folder; `key` tells apart templates of the
    same folder that are prepared differently (another interpreter, no accounts...).
    """

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def copy(
        self,
        source: pathlib.Path,
        destination_parent: pathlib.Path,
        key: str,
        prepare: Callable[[pathlib.Path], None],
    ) -> pathlib.Path:
        """A prepared copy of source in destination_parent/<source's name>."""
        template = self._template(pathlib.Path(source).resolve(), key, prepare)
        destination = pathlib.Path(destination_parent) / template.name
        shutil.copytree(template, destination)
        return destination

    def _template(
        self, source: pathlib.Path, key: str, prepare: Callable[[pathlib.Path], None]
    ) -> pathlib.Path:
        name = hashlib.sha256(f"{source}\n{key}".encode()).hexdigest()[:16]
        home = self.folder / name
        with _locked(self.folder / f"{name}.lock"):
            if not (home / READY).is_file():
                shutil.rmtree(home, ignore_errors=True)  # a worker stopped half-way
                home.mkdir()
                prepare(copy_project(source, home))
                (home / READY).touch()
        return home / source.name
