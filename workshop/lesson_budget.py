"""The lesson budget: what a student types, what they copy, and whether a step fits its minutes.

A step is taught live: the instructor explains and types, the students type along, in the
teaching minutes the step claims (`teach` in steps.toml). What they type is the step's
lesson; the rest of its changes are given, and they copy them:

- the step's tests are given (they check the lesson; typing them teaches nothing new),
  except in the step that brings the tests in (the first with the `student-tests`
  capability), where writing them is the lesson;
- migrations are always given: `makemigrations` writes them, nobody types them;
- everything else is typed: Python, templates and static files (the client half of every
  socket), requirements.txt.

The first step has no step before it: its folder is the student's starting point, copied
whole, and its minutes go to talking the project through.

A step's lesson lines are the non-blank lines its diff adds, in every file but README.md,
the tests and the migrations (comments count: the student reads and types them). At the
pace a room types along, that is at most LINES_PER_MINUTE lines a teaching minute, so a
step's `teach` is at least its lesson lines at that pace, rounded up to the next
MINUTES_ROUNDED_TO minutes; and no step teaches for more than MOST_TEACHING_MINUTES (a
longer one is split into two steps). CONTRIBUTING.md ("How a step's minutes are derived")
says the rest; tests/test_lesson_budget.py holds every step to it, and
`python -m workshop diff --budget` prints the table.

This module is the one place these rules live: the "What changed" block of each step's
README (workshop/commands/docs.py), the type-along test and the budget test all use it.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

from .diffing import added_lines, changed_files, file_diffs
from .manifest import Step

LINES_PER_MINUTE = 6
MOST_TEACHING_MINUTES = 25
MINUTES_ROUNDED_TO = 5

README = "README.md"
TESTS_FOLDER = "chat/tests/"
MIGRATIONS_FOLDER = "migrations"  # an app's migrations, in whichever app

# Why a file is copied rather than typed, by kind: the README says it beside the file.
GIVEN_TESTS = "the step's tests"
GIVEN_MIGRATION = "written by `makemigrations`"
GIVEN_START = "the starting folder, copied whole"


def is_test(name: str) -> bool:
    return name.startswith(TESTS_FOLDER)


def is_migration(name: str) -> bool:
    return MIGRATIONS_FOLDER in pathlib.PurePosixPath(name).parts[:-1]


def counts_toward_budget(name: str) -> bool:
    """Whether a file's added lines are lesson lines (README, tests, migrations are not)."""
    return name != README and not is_test(name) and not is_migration(name)


def writes_its_tests(steps: list[Step], step: Step) -> bool:
    """Whether this step brings the tests in, so that writing them is its lesson."""
    before = steps[step.number - 2] if step.number > 1 else None
    return step.has("student-tests") and not (before and before.has("student-tests"))


def why_given(steps: list[Step], step: Step, name: str) -> str:
    """Why the student copies `name` in this step instead of typing it; "" if they type it.

    README.md is neither: the student reads it, and no diff carries it.
    """
    if step.number == 1:
        return GIVEN_START
    if is_migration(name):
        return GIVEN_MIGRATION
    if is_test(name) and not writes_its_tests(steps, step):
        return GIVEN_TESTS
    return ""


@dataclasses.dataclass(frozen=True)
class ChangedFile:
    """One file a step added, changed or removed, as the student meets it."""

    name: str
    change: str  # "added", "changed" or "removed"
    lines: int  # the non-blank lines the step's diff adds to it
    given: str  # why the student copies it (why_given); "" when they type it

    @property
    def typed(self) -> bool:
        return not self.given


def step_files(steps: list[Step], step: Step) -> list[ChangedFile]:
    """The files the step changed since the step before, README.md aside, in path order."""
    before = steps[step.number - 2].path if step.number > 1 else None
    diffs = file_diffs(before, step.path)
    return [
        ChangedFile(name, change, added_lines(diffs[name]), why_given(steps, step, name))
        for name, change in changed_files(before, step.path).items()
        if name != README
    ]


def minimum_teaching_minutes(lesson_lines: int) -> int:
    """The lesson lines at LINES_PER_MINUTE, rounded up to the next MINUTES_ROUNDED_TO."""
    return math.ceil(lesson_lines / (LINES_PER_MINUTE * MINUTES_ROUNDED_TO)) * MINUTES_ROUNDED_TO


@dataclasses.dataclass(frozen=True)
class Budget:
    """A step's lesson lines against the teaching minutes it claims."""

    folder: str
    lesson_lines: int
    teach: int
    copied_whole: bool = False  # the first step: nothing typed, nothing to measure

    @property
    def lines_per_minute(self) -> float:
        return self.lesson_lines / self.teach if self.teach else math.inf

    @property
    def at_least(self) -> int:
        return minimum_teaching_minutes(self.lesson_lines)

    def problems(self) -> list[str]:
        """What breaks the budget, each with the fix; empty when the step fits."""
        found = []
        if self.teach < self.at_least:
            found.append(
                f"{self.folder}: {self.lesson_lines} lesson lines need at least "
                f"{self.at_least} teaching minutes at {LINES_PER_MINUTE} a minute, and "
                f"steps.toml gives it {self.teach}: raise `teach`, or move what is not "
                "the step's idea out of it"
            )
        if self.teach > MOST_TEACHING_MINUTES:
            found.append(
                f"{self.folder}: {self.teach} teaching minutes, over the "
                f"{MOST_TEACHING_MINUTES} a step may take: split it into two steps"
            )
        return found


def step_budget(steps: list[Step], step: Step) -> Budget:
    lesson_lines = sum(
        changed.lines
        for changed in step_files(steps, step)
        if changed.typed and counts_toward_budget(changed.name)
    )
    return Budget(step.folder, lesson_lines, step.teach, copied_whole=step.number == 1)


def budgets(steps: list[Step]) -> list[Budget]:
    return [step_budget(steps, step) for step in steps]


def budget_table(rows: list[Budget]) -> str:
    """Every step's lesson lines against its teaching minutes, as aligned plain text."""
    header = ("step", "lesson lines", "teach", "lines/min", "at least", "")
    lines = [header]
    for row in rows:
        if row.copied_whole:
            cells = (row.folder, "-", str(row.teach), "-", "-", "starting folder, copied whole")
        else:
            cells = (
                row.folder,
                str(row.lesson_lines),
                str(row.teach),
                f"{row.lines_per_minute:.1f}",
                str(row.at_least),
                "OVER" if row.problems() else "",
            )
        lines.append(cells)
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(header))]
    numeric = range(1, len(header) - 1)  # right-aligned, as numbers are
    text = []
    for cells in lines:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        text.append("  ".join(padded).rstrip())
    text.append(
        f"teach: at least the lesson lines at {LINES_PER_MINUTE} a minute, rounded up to the "
        f"next {MINUTES_ROUNDED_TO} minutes; at most {MOST_TEACHING_MINUTES} minutes a step"
    )
    return "\n".join(text)


def processes_running(steps: list[Step], step: Step) -> list[tuple[str, Step]]:
    """The commands a student runs beside the server at this step, each with the step that
    started it (this one, or an earlier one: later steps keep them running)."""
    return [(command, earlier) for earlier in steps[: step.number] for command in earlier.processes]


def changes_code(steps: list[Step], step: Step) -> bool:
    """Whether the step changes Python code or the packages: what a running worker loaded
    when it started, and does not reload."""
    return any(
        changed.name.endswith(".py") or changed.name == "requirements.txt"
        for changed in step_files(steps, step)
    )
