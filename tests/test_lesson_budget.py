"""The lesson budget: every step is taught in the minutes it claims (workshop/lesson_budget.py).

A step's lesson lines are what the students type along in its teaching minutes; at most
six a minute, and at most 25 minutes a step (CONTRIBUTING.md, "How a step's minutes are
derived"). The rules are tried on made-up folders and steps first, so that the check of the
real steps is known to be able to fail.
"""

from __future__ import annotations

import pytest

from tests.workshop_command import workshop
from workshop.diffing import added_lines, file_diffs
from workshop.lesson_budget import (
    GIVEN_MIGRATION,
    GIVEN_START,
    GIVEN_TESTS,
    LINES_PER_MINUTE,
    MOST_TEACHING_MINUTES,
    Budget,
    budget_table,
    budgets,
    counts_toward_budget,
    minimum_teaching_minutes,
    why_given,
)
from workshop.manifest import Step, load_steps

STEPS = load_steps()


def test_every_step_fits_its_teaching_minutes():
    rows = budgets(STEPS)
    problems = [problem for row in rows for problem in row.problems()]
    assert not problems, "\n".join(["", *problems, "", budget_table(rows)])


def test_the_table_shows_every_step_with_its_numbers():
    rows = budgets(STEPS)
    table = budget_table(rows).splitlines()
    for row in rows[1:]:  # the first is copied whole: nothing to count
        line = next(line for line in table if line.startswith(row.folder + " "))
        assert line.split()[1:5] == [
            str(row.lesson_lines), str(row.teach), f"{row.lines_per_minute:.1f}",
            str(row.at_least),
        ]  # fmt: skip


def test_the_instructors_command_prints_the_table():
    result = workshop("diff", "--budget")
    assert result.returncode == 0, result.output
    assert budget_table(budgets(STEPS)) in result.output


# What a made-up step would need, by the rule: 6 lines a minute, up to the next 5 minutes.
@pytest.mark.parametrize(
    ("lesson_lines", "at_least"),
    [(0, 0), (1, 5), (30, 5), (31, 10), (120, 20), (121, 25), (150, 25), (151, 30)],
)
def test_teaching_minutes_are_the_lines_at_six_a_minute_rounded_up_to_five(lesson_lines, at_least):
    assert LINES_PER_MINUTE == 6  # the pace the cases above are worked out for
    assert minimum_teaching_minutes(lesson_lines) == at_least


def test_a_step_with_more_lines_than_its_minutes_is_over():
    assert Budget("step98_made_up", lesson_lines=121, teach=25).problems() == []
    (problem,) = Budget("step98_made_up", lesson_lines=121, teach=20).problems()
    assert "step98_made_up" in problem and "at least 25" in problem


def test_a_step_over_the_most_teaching_minutes_is_to_be_split():
    assert Budget("step99_made_up", 10, MOST_TEACHING_MINUTES).problems() == []
    (problem,) = Budget("step99_made_up", 10, MOST_TEACHING_MINUTES + 5).problems()
    assert "split" in problem


def test_the_table_marks_a_step_that_is_over():
    rows = [Budget("step97_fits", 60, 10), Budget("step98_over", 61, 10)]
    fits, over = budget_table(rows).splitlines()[1:3]
    assert not fits.endswith("OVER") and over.endswith("OVER")


def test_lesson_lines_are_the_non_blank_lines_a_diff_adds(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(), after.mkdir()
    (before / "views.py").write_text("a = 1\nb = 2\n")
    # Two new lines of code and a comment; a blank line; one line removed; one that a
    # naive count of "+++" headers would miss.
    (after / "views.py").write_text("a = 1\n# why\n\nc = 3\n++d\n")
    (after / "new.html").write_text("<p>\n\n</p>\n")
    diffs = file_diffs(before, after)
    assert added_lines(diffs["views.py"]) == 3
    assert added_lines(diffs["new.html"]) == 2


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("chat/consumers.py", True),
        ("chat/templates/chat/room.html", True),
        ("chat/static/chat/socket.js", True),
        ("requirements.txt", True),
        ("README.md", False),
        ("chat/tests/test_consumers.py", False),
        ("chat/migrations/0001_initial.py", False),
        ("other_app/migrations/__init__.py", False),
    ],
)
def test_code_templates_static_files_and_requirements_count_toward_the_budget(name, counts):
    assert counts_toward_budget(name) is counts


def made_up_steps() -> list[Step]:
    """A first step, one that brings the tests in, and one after it."""
    kinds = [("http",), ("http", "student-tests"), ("http", "student-tests")]
    return [
        Step(number, f"step{number:02d}_made_up", "made up", 10, 10, capabilities, ())
        for number, capabilities in enumerate(kinds, start=1)
    ]


@pytest.mark.parametrize(
    ("number", "name", "given"),
    [
        (1, "chat/consumers.py", GIVEN_START),  # the starting folder is copied whole
        (2, "chat/consumers.py", ""),
        (2, "chat/tests/test_consumers.py", ""),  # writing the tests is this step's lesson
        (3, "chat/tests/test_consumers.py", GIVEN_TESTS),
        (2, "chat/migrations/0001_initial.py", GIVEN_MIGRATION),
        (3, "chat/templates/chat/room.html", ""),
    ],
)
def test_the_student_types_the_lesson_and_copies_tests_and_migrations(number, name, given):
    steps = made_up_steps()
    assert why_given(steps, steps[number - 1], name) == given
