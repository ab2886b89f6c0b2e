"""Step 05's own tests (what the student writes) pass in a copy of the step, and the
bad-input tests really fail against step 04's consumer: red, fix, green."""

import re
import sys

import pytest

from workshop.manifest import get_step
from workshop.step_server import StepServerError, copy_project, project_env, run_manage

pytestmark = pytest.mark.needs("student-tests")


def ran_count(output: str) -> int:
    match = re.search(r"^Ran (\d+) tests?", output, flags=re.MULTILINE)
    assert match, f"no 'Ran N tests' line in:\n{output}"
    return int(match.group(1))


def test_the_steps_own_suite_passes(step, tmp_path, redis_url):
    copy = copy_project(step.source, tmp_path)
    env = project_env(redis_url)
    result = run_manage(copy, "test", "--noinput", "-v", "2", env=env, timeout=600)
    output = result.stdout + result.stderr
    assert ran_count(output) >= 13, output
    assert "OK" in output.splitlines()[-3:] or re.search(r"^OK", output, re.MULTILINE)
    assert not (copy / "db.sqlite3").exists(), "the tests touched the development database"


def test_the_bad_input_tests_fail_against_a_consumer_without_input_checks(step, tmp_path):
    # The last step before input checks arrived (step 04): its consumer must fail them.
    earlier = [get_step(n) for n in range(1, step.step.number)]
    previous = [s for s in earlier if s.has("groups") and not s.has("input-checks")][-1]
    copy = copy_project(step.source, tmp_path)
    consumer = (previous.path / "chat" / "consumers.py").read_text()
    # The tests import the limit (from step 06 on the close codes, from step 08 the
    # history length); the old consumer has none of them, so give it the same ones.
    # From step 09 on, routing.py also routes a NotificationConsumer, which these
    # tests never open: any consumer class will do.
    constants = (
        "\nMAX_MESSAGE_LENGTH = 1000\nLAYER_UNAVAILABLE = 4503\nNOT_LOGGED_IN = 4401\n"
        "HISTORY_LENGTH = 50\nNotificationConsumer = ChatConsumer\n"
    )
    (copy / "chat" / "consumers.py").write_text(consumer + constants)
    with pytest.raises(StepServerError) as failed:
        run_manage(
            copy, "test", "--noinput", "chat.tests.test_consumers", env=project_env(), timeout=300
        )
    output = str(failed.value)
    match = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?\)", output)
    assert match, output
    failures = sum(int(n) for n in match.groups() if n)
    assert failures >= 8, f"expected the 8 bad-input tests to fail, got {failures}:\n{output}"
    assert sys.executable  # the copy ran with this interpreter's packages
