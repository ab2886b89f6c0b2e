"""What changed between two project folders: the file list and a unified diff."""

from __future__ import annotations

import difflib
import pathlib

from .manifest import Step

# Not part of any lesson: generated or local files a copy may contain.
_IGNORED_PARTS = {"__pycache__", ".pytest_cache"}
_IGNORED_NAMES = {"db.sqlite3", "test_db.sqlite3", ".DS_Store"}


def project_files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """Files of a project folder, keyed by their path relative to it (with '/')."""
    folder = pathlib.Path(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or _IGNORED_PARTS & set(relative.parts):
            continue
        if path.name in _IGNORED_NAMES or path.suffix == ".pyc":
            continue
        files[relative.as_posix()] = path
    return files


def changed_files(before: pathlib.Path | None, after: pathlib.Path) -> dict[str, str]:
    """{relative path: "added" | "changed" | "removed"} from folder before to after."""
    old = project_files(before) if before else {}
    new = project_files(after)
    changes = {}
    for name in sorted(set(old) | set(new)):
        if name not in old:
            changes[name] = "added"
        elif name not in new:
            changes[name] = "removed"
        elif old[name].read_bytes() != new[name].read_bytes():
            changes[name] = "changed"
    return changes


def _lines(path: pathlib.Path | None) -> list[str]:
    if path is None:
        return []
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def file_diffs(
    before: pathlib.Path | None, after: pathlib.Path, exclude: tuple[str, ...] = ()
) -> dict[str, str]:
    """{relative path: its unified diff} for every changed file, paths labelled by step folder."""
    old = project_files(before) if before else {}
    new = project_files(after)
    before_label = pathlib.Path(before).name if before else "(nothing)"
    diffs = {}
    for name, change in changed_files(before, after).items():
        if name in exclude:
            continue
        diff = difflib.unified_diff(
            _lines(old.get(name)),
            _lines(new.get(name)),
            fromfile=f"{before_label}/{name}" if change != "added" else "/dev/null",
            tofile=f"{pathlib.Path(after).name}/{name}" if change != "removed" else "/dev/null",
        )
        diffs[name] = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    return diffs


def unified_diff(
    before: pathlib.Path | None, after: pathlib.Path, exclude: tuple[str, ...] = ()
) -> str:
    """One unified diff over every changed file, paths labelled by step folder."""
    return "".join(file_diffs(before, after, exclude).values())


def added_lines(diff: str) -> int:
    """The non-blank lines a one-file unified diff adds (its two header lines aside)."""
    body = diff.splitlines()[2:]
    return sum(1 for line in body if line.startswith("+") and line[1:].strip())


def step_changes(steps: list[Step], step: Step) -> dict[str, str]:
    """What `step` changed since the step before it (every file, for the first)."""
    previous = steps[step.number - 2].path if step.number > 1 else None
    return changed_files(previous, step.path)
