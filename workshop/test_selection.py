"""Which tests concern a step, and which steps a branch changed (`workshop test --step/--changed`).

The tests that run once per step take pytest's --step option (tests/conftest.py) and keep
only that step's runs; the files below hold them. `--changed` maps what differs from
`main` to steps and test files, and falls back to the whole suite when a file that every
test depends on changed (the tooling, the manifest, the pins, the shared test helpers).
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess

from .manifest import REPO_ROOT, Step, load_steps

# The test files with tests that run once per step: the step's acceptance tests (and its
# reliability tests), its own suite where it has one, its diff, README, pins and imports.
PER_STEP_TESTS = (
    "tests/acceptance",
    "tests/reliability",
    "tests/test_student_suite.py",
    "tests/test_step_diffs.py",
    "tests/test_pins.py",
    "tests/test_steps_stand_alone.py",
)

# Folders whose own tests are enough when only they change.
OWN_TESTS = {
    "slides/": "tests/test_slides.py",
    "notebooks/": "tests/test_notebooks.py",
}


class SelectionError(RuntimeError):
    """The comparison with main cannot be made."""


def pytest_args_for_steps(steps: list[Step]) -> list[str]:
    """pytest arguments that run everything concerning these steps."""
    args = list(PER_STEP_TESTS)
    for step in steps:
        args += ["--step", str(step.number)]
    return args


@dataclasses.dataclass
class Changes:
    """What a branch changed, sorted by what has to run for it."""

    steps: list[Step] = dataclasses.field(default_factory=list)
    test_files: list[str] = dataclasses.field(default_factory=list)
    everything_depends_on: list[str] = dataclasses.field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.steps or self.test_files or self.everything_depends_on)


def classify(paths: list[str], steps: list[Step] | None = None) -> Changes:
    """Sort changed paths (relative to the repository, with '/') into a Changes."""
    steps = steps if steps is not None else load_steps()
    by_folder = {step.folder: step for step in steps}
    changes = Changes()
    for path in sorted(set(paths)):
        folder = path.split("/", 1)[0]
        name = path.rsplit("/", 1)[-1]
        own = next((tests for prefix, tests in OWN_TESTS.items() if path.startswith(prefix)), None)
        if folder in by_folder:
            if by_folder[folder] not in changes.steps:
                changes.steps.append(by_folder[folder])
        elif path.startswith("tests/") and name.startswith("test_") and name.endswith(".py"):
            changes.test_files.append(path)
        elif own is not None:
            if own not in changes.test_files:
                changes.test_files.append(own)
        else:
            changes.everything_depends_on.append(path)
    changes.steps.sort(key=lambda step: step.number)
    return changes


def _git(root: pathlib.Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SelectionError(f"`git {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def merge_base(base: str, root: pathlib.Path = REPO_ROOT) -> str:
    """The commit where this branch left `base` (main, else origin/main)."""
    for ref in (base, f"origin/{base}"):
        try:
            return _git(root, "merge-base", "HEAD", ref).strip()
        except SelectionError:
            continue
    raise SelectionError(
        f"there is no branch {base!r} to compare with: fetch it (`git fetch origin {base}`), "
        f"or give another one with --base BRANCH"
    )


def changed_paths(base: str, root: pathlib.Path = REPO_ROOT) -> list[str]:
    """Files that differ from where the branch left `base`: commits, edits and new files."""
    since = merge_base(base, root)
    edited = _git(root, "diff", "--name-only", since).splitlines()
    new = _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    return [path for path in [*edited, *new] if path]  # a deleted file counts too


def describe(changes: Changes) -> list[str]:
    """What will run and why, one line each."""
    lines = []
    if changes.everything_depends_on:
        shown = ", ".join(changes.everything_depends_on[:5])
        more = len(changes.everything_depends_on) - 5
        lines.append(
            f"changed outside the steps: {shown}{f' and {more} more' if more > 0 else ''}; "
            "every test depends on these, so the whole suite runs"
        )
        return lines
    if changes.steps:
        labels = ", ".join(f"{step.number} ({step.folder})" for step in changes.steps)
        lines.append(f"changed steps: {labels}")
    if changes.test_files:
        lines.append(f"changed or affected test files: {', '.join(changes.test_files)}")
    return lines
