"""tests/subjects.py: a test marked with a subject runs where that subject changed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.subjects import part_source, steps_where_changed
from workshop.manifest import REPO_ROOT, load_steps

SETTINGS = """\
DEBUG = True

LOGGING = {
    "version": 1,
}


def helper():
    return 1
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "chatsite").mkdir()
    (tmp_path / "chatsite" / "settings.py").write_text(SETTINGS)
    (tmp_path / "requirements.txt").write_text("Django==5.2.1\nchannels-redis==4.3.0\n")
    return tmp_path


def test_a_definition_is_its_source_alone(folder):
    logging = part_source(folder, "chatsite/settings.py::LOGGING")
    assert logging == 'LOGGING = {\n    "version": 1,\n}'
    assert part_source(folder, "chatsite/settings.py::helper").startswith("def helper")
    assert part_source(folder, "chatsite/settings.py::ABSENT") is None
    settings = folder / "chatsite" / "settings.py"
    settings.write_text(SETTINGS.replace("DEBUG = True", "DEBUG = False"))
    assert part_source(folder, "chatsite/settings.py::LOGGING") == logging
    settings.write_text(SETTINGS.replace('"version": 1', '"version": 2'))
    assert part_source(folder, "chatsite/settings.py::LOGGING") != logging


def test_a_requirement_is_its_line_whatever_the_spelling(folder):
    assert part_source(folder, "requirements.txt::channels_redis") == "channels-redis==4.3.0"
    assert part_source(folder, "requirements.txt::redis") is None
    assert part_source(folder, "requirements.txt::django") == "Django==5.2.1"
    assert part_source(folder, "requirements.txt") == "Django==5.2.1\nchannels-redis==4.3.0\n"
    assert part_source(folder, "nothing.txt") is None


@pytest.mark.parametrize("file", ["chat/consumers.py", "chatsite/settings.py", "chat/routing.py"])
def test_a_whole_file_changes_where_the_manifest_says(file):
    # Two sources that must agree: the folders (subjects.py) and steps.toml's `changed`.
    steps = [step for step in load_steps() if step.has("websocket")]
    expected = [steps[0]] + [step for step in steps[1:] if file in step.changed]
    assert steps_where_changed(steps, (file,)) == expected


def test_a_subject_no_step_has_is_refused():
    with pytest.raises(ValueError, match="no step has"):
        steps_where_changed(load_steps(), ("chatsite/settings.py::NO_SUCH_SETTING",))


def collected(*args: str) -> list[str]:
    """The test ids pytest collects with these options (nothing runs)."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", *args]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_under_another_python_a_test_with_a_subject_runs_on_the_step_asked_for():
    # The lanes (--python 3.10) serve the last step with another interpreter: the step
    # where the test's subject last changed is not in that run, and the Python is new.
    last = load_steps()[-1]
    no_tests_found = f"test_a_suite_that_finds_no_tests_fails_instead_of_reporting_ok[{last.label}]"
    asked = ["tests/test_student_suite.py", "--step", str(last.number), "-p", "no:cacheprovider"]
    assert not [test for test in collected(*asked) if no_tests_found in test]
    other_python = collected(*asked, "--step-python", "/elsewhere/bin/python3.10")
    assert [test for test in other_python if no_tests_found in test]
