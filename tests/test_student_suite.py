"""Step 05's own tests (what the student writes) pass in a copy of the step, and the
bad-input tests really fail against the same consumer without its input checks: red, fix,
green."""

import re
import subprocess

import pytest

from workshop.step_server import StepServerError, copy_project, project_env, run_manage
from workshop.temp_leftovers import temp_dir_env

pytestmark = pytest.mark.needs("student-tests")


# Appended to a step's chat/consumers.py: a later definition replaces the step's own, so
# the consumer parses frames as the official tutorial does, with no checks.
WITHOUT_INPUT_CHECKS = """

def parse_chat_message(text_data):
    return json.loads(text_data)["message"]
"""


def ran_count(output: str) -> int:
    match = re.search(r"^Ran (\d+) tests?", output, flags=re.MULTILINE)
    assert match, f"no 'Ran N tests' line in:\n{output}"
    return int(match.group(1))


def readme_test_count(readme: str) -> int:
    """The count the README's "Run the tests" gives: `python manage.py test  # all N tests`."""
    match = re.search(r"^python manage\.py test +# all (\d+) tests", readme, flags=re.MULTILINE)
    assert match, "the README's 'Run the tests' has no `python manage.py test  # all N tests` line"
    return int(match.group(1))


def test_the_steps_own_suite_passes(step, tmp_path, redis_url, step_python, private_temp_dir):
    copy = copy_project(step.source, tmp_path)
    # Its browser tests' Chromium keeps a profile in the temp folder: the test's own.
    env = project_env(redis_url, **temp_dir_env(private_temp_dir))
    result = run_manage(
        copy, "test", "--noinput", "-v", "2", env=env, timeout=600, python=step_python
    )
    output = result.stdout + result.stderr
    ran = ran_count(output)
    assert ran >= 13, output
    if step.source == step.step.path:  # the reference step, whose README states the count
        stated = readme_test_count((step.source / "README.md").read_text(encoding="utf-8"))
        assert ran == stated, f"{step.step.folder}/README.md says {stated} tests; {ran} ran"
    assert "OK" in output.splitlines()[-3:] or re.search(r"^OK", output, re.MULTILINE)
    assert not (copy / "db.sqlite3").exists(), "the tests touched the development database"


def test_the_bad_input_tests_fail_against_a_consumer_without_input_checks(
    step, tmp_path, step_python
):
    # The step's own consumer with the tutorial's parsing put back (no checks at all):
    # the bad-input tests must fail against it, and only they.
    copy = copy_project(step.source, tmp_path)
    consumer = copy / "chat" / "consumers.py"
    consumer.write_text(consumer.read_text() + WITHOUT_INPUT_CHECKS)
    # Not run_manage(): its error keeps only the output's tail, and the failures' names
    # are all needed here.
    result = subprocess.run(
        [step_python, "manage.py", "test", "--noinput", "chat.tests.test_consumers"],
        cwd=copy,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the bad-input tests passed without input checks:\n{output}"
    match = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?\)", output)
    assert match, output
    failures = sum(int(n) for n in match.groups() if n)
    # 7 of the 8: the lone surrogate passes, since the in-memory layer these tests use
    # never encodes it (on Redis it crashes the consumer; the acceptance tests check that).
    assert failures >= 7, f"expected 7 bad-input tests to fail, got {failures}:\n{output}"
    # Red for the right reason: only tests about refused input fail (the bad-input tests,
    # and from step 08 "a refused message is not saved"); chatting still works.
    failed = failed_tests(output)
    assert {cls for cls, _ in failed} >= {"BadInputTests"}, output
    assert all(cls == "BadInputTests" or "refused" in name for cls, name in failed), output


def failed_tests(output: str) -> set[tuple[str, str]]:
    """(class, test) of each test unittest reports as FAIL or ERROR.

    Python 3.11+ writes `FAIL: test_x (chat.tests.test_consumers.BadInputTests.test_x)`,
    3.10 `FAIL: test_x (chat.tests.test_consumers.BadInputTests)`.
    """
    failed = set()
    for name, dotted in re.findall(r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)$", output, re.M):
        parts = dotted.split(".")
        failed.add((parts[-2] if parts[-1] == name else parts[-1], name))
    return failed


# What decides this: the step's test runner and the Django that finds the tests; so it runs
# where one of them changed (tests/subjects.py), not on every step with a suite.
@pytest.mark.subject(
    "chatsite/test_runner.py", "chatsite/settings.py::TEST_RUNNER", "requirements.txt::django"
)
def test_a_suite_that_finds_no_tests_fails_instead_of_reporting_ok(step, tmp_path):
    # The type-along trap: without chat/tests/__init__.py Django finds no tests, and
    # would print "Ran 0 tests" and "OK". The step's test runner makes that a failure.
    copy = copy_project(step.source, tmp_path)
    (copy / "chat" / "tests" / "__init__.py").unlink()
    with pytest.raises(StepServerError) as failed:
        run_manage(copy, "test", "--noinput", env=project_env(), timeout=300)
    assert "No tests found" in str(failed.value)
