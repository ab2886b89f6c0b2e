"""Step 05's own tests (what the student writes) pass in a copy of the step, and the
bad-input tests really fail against step 04's consumer: red, fix, green."""

import re

import pytest

from workshop.manifest import get_step
from workshop.step_server import StepServerError, copy_project, project_env, run_manage

pytestmark = pytest.mark.needs("student-tests")


def ran_count(output: str) -> int:
    match = re.search(r"^Ran (\d+) tests?", output, flags=re.MULTILINE)
    assert match, f"no 'Ran N tests' line in:\n{output}"
    return int(match.group(1))


def test_the_steps_own_suite_passes(step, tmp_path, redis_url, step_python):
    copy = copy_project(step.source, tmp_path)
    env = project_env(redis_url)
    result = run_manage(
        copy, "test", "--noinput", "-v", "2", env=env, timeout=600, python=step_python
    )
    output = result.stdout + result.stderr
    assert ran_count(output) >= 13, output
    assert "OK" in output.splitlines()[-3:] or re.search(r"^OK", output, re.MULTILINE)
    assert not (copy / "db.sqlite3").exists(), "the tests touched the development database"


def test_the_bad_input_tests_fail_against_a_consumer_without_input_checks(
    step, tmp_path, step_python
):
    # The last step before input checks arrived (step 04): its consumer must fail them.
    earlier = [get_step(n) for n in range(1, step.step.number)]
    previous = [s for s in earlier if s.has("groups") and not s.has("input-checks")][-1]
    copy = copy_project(step.source, tmp_path)
    consumer = (previous.path / "chat" / "consumers.py").read_text()
    # The tests import the limit (and from step 06 and 07 the close codes); the old
    # consumer has none of them, so give it the same ones.
    constants = "\nMAX_MESSAGE_LENGTH = 1000\nLAYER_UNAVAILABLE = 4503\nNOT_LOGGED_IN = 4401\n"
    (copy / "chat" / "consumers.py").write_text(consumer + constants)
    with pytest.raises(StepServerError) as failed:
        run_manage(
            copy,
            "test",
            "--noinput",
            "chat.tests.test_consumers",
            env=project_env(),
            timeout=300,
            python=step_python,
        )
    output = str(failed.value)
    match = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?\)", output)
    assert match, output
    failures = sum(int(n) for n in match.groups() if n)
    assert failures >= 8, f"expected the 8 bad-input tests to fail, got {failures}:\n{output}"
    # Red for the right reason: only the bad-input tests fail; chatting still works.
    assert failed_test_classes(output) == {"BadInputTests"}, output


def failed_test_classes(output: str) -> set[str]:
    """The classes of the tests unittest reports as FAIL or ERROR.

    Python 3.11+ writes `FAIL: test_x (chat.tests.test_consumers.BadInputTests.test_x)`,
    3.10 `FAIL: test_x (chat.tests.test_consumers.BadInputTests)`.
    """
    classes = set()
    for name, dotted in re.findall(r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)$", output, re.M):
        parts = dotted.split(".")
        classes.add(parts[-2] if parts[-1] == name else parts[-1])
    return classes


def test_a_suite_that_finds_no_tests_fails_instead_of_reporting_ok(step, tmp_path):
    # The type-along trap: without chat/tests/__init__.py Django finds no tests, and
    # would print "Ran 0 tests" and "OK". The step's test runner makes that a failure.
    copy = copy_project(step.source, tmp_path)
    (copy / "chat" / "tests" / "__init__.py").unlink()
    with pytest.raises(StepServerError) as failed:
        run_manage(copy, "test", "--noinput", env=project_env(), timeout=300)
    assert "No tests found" in str(failed.value)
