"""`python -m workshop check STEP [PATH]`: passes on the reference step, and on a broken
copy fails with the hint that names what is broken and how to fix it."""

import pathlib
import re
import subprocess

import pytest

from tests.conftest import unavailable
from tests.workshop_command import workshop
from workshop.browser import chromium_paths
from workshop.commands.check import pytest_command
from workshop.hints import by_key
from workshop.manifest import REPO_ROOT, get_step, load_steps
from workshop.postgres_server import find_bin_dir
from workshop.redis_server import find_redis_server
from workshop.step_server import copy_project

# A check starts Daphne, Redis and Chromium and runs a step's acceptance tests: minutes.
pytestmark = [pytest.mark.timeout(900), pytest.mark.browser, pytest.mark.redis]


@pytest.fixture
def prerequisites():
    """check needs what the acceptance tests need; without it, its own tests would be skipped."""
    if not find_redis_server():
        unavailable("redis-server is not installed (sudo apt-get install redis-server)")
    if None in chromium_paths():
        unavailable("Chromium/ChromeDriver missing (sudo apt-get install chromium chromium-driver)")


def check(*args: str, env: dict[str, str] | None = None):
    return workshop("check", *args, env=env, timeout=850)


# On a broken copy, the subject is the hint: found in the failures and the server's log,
# which the tests without a browser produce as well. A page that cannot chat fails each
# browser test only after waiting 10 s for it, with the same server error; and the
# browser tests pass through check on the reference step (the first test below).
WITHOUT_BROWSER = {"PYTEST_ADDOPTS": '-k "not browser"'}


def check_broken(copy: pathlib.Path) -> subprocess.CompletedProcess:
    """`check 3 COPY` on a broken copy of step 03, its browser tests left out."""
    result = check("3", str(copy), env=WITHOUT_BROWSER)
    assert "PASS  Index page renders" in result.output, result.output  # it ran the rest
    assert "A typed message appears" not in result.output, "the browser tests ran (conftest.py)"
    return result


def hints_shown(output: str) -> list[str]:
    """The numbered items of "What to fix", each as one string (why, seen, fix, row, tests)."""
    items = re.split(r"\n  \d+\. ", output.split("What to fix", 1)[-1].split("Failed tests")[0])
    return [" ".join(item.split()) for item in items[1:]]


def failed_tests(output: str) -> list[str]:
    section = output.split("\nFailed tests, with what went wrong:\n", 1)[-1]
    return [line[8:] for line in section.splitlines() if line.startswith("  FAIL  ")]


def broken_step3(tmp_path, file: str, old: str, new: str, regex: bool = False):
    """A copy of step 03 with one mistake a student makes."""
    copy = copy_project(get_step(3).path, tmp_path)
    target = copy / file
    text = target.read_text()
    if regex:
        text, count = re.subn(old, new, text, flags=re.DOTALL)
    else:
        text, count = text.replace(old, new), text.count(old)
    assert count == 1, f"the mistake no longer applies to {file}: {old!r}"
    target.write_text(text)
    return copy


# The acceptance tests already pass on every step (tests/acceptance); here check itself
# is proved: on the broken copies of step 03 below, and passing on the first step that
# ships its own suite. That step takes every path of check (runserver, Redis, a browser,
# the step's own suite through manage.py test); a later step would only run more of the
# acceptance tests, which the suite has run on it already. So would the rest of this
# step's: check runs one test of each path here, and a second browser test, which the
# tests of the usual mistakes leave for --full.
FIRST_WITH_OWN_SUITE = next(step for step in load_steps() if step.has("student-tests"))
ONE_TEST_OF_EACH_PATH = {
    "PYTEST_ADDOPTS": '-k "test_runserver_starts_daphne or test_index_page_renders'
    " or test_a_typed_message_appears or test_two_daphne_processes_share_rooms"
    ' or test_the_steps_own_suite_passes or test_the_room_input_has_focus_on_load"'
}


@pytest.mark.slow
@pytest.mark.parametrize("step", [FIRST_WITH_OWN_SUITE], ids=[FIRST_WITH_OWN_SUITE.label])
def test_check_passes_on_the_reference_step(step, prerequisites):
    result = check(str(step.number), env=ONE_TEST_OF_EACH_PATH)
    assert result.returncode == 0, result.output
    assert f"Step {step.number} looks right: every test of its usual mistakes passes." in (
        result.output
    )
    assert "  FAIL" not in result.output and "  SKIP" not in result.output
    # The second browser test was left out, and the output says how to run it.
    assert "Running the 5 tests that find this step's usual mistakes (1 more with --full)." in (
        result.output
    )
    assert "input has focus" not in result.output
    assert f"1 more test(s) of step {step.number} were left out" in result.output
    assert f"python3 -m workshop check {step.number} --full" in result.output
    # Progress while it ran: what it started, and each test as it finished.
    assert "starting `python manage.py runserver`" in result.output
    assert "  PASS  Index page renders" in result.output
    assert "  PASS  Two daphne processes share rooms through redis" in result.output  # Redis
    assert "  PASS  A typed message appears in the chat log" in result.output  # a browser
    # and the step's own suite, through manage.py test
    assert "  PASS  The steps own suite passes" in result.output
    assert "Result: 5 of 5 tests pass." in result.output, "not one test of each path ran"


def assert_first_hint(output: str, key: str, *texts: str) -> str:
    hint = by_key(key)
    shown = hints_shown(output)
    assert shown, f"no hints in:\n{output}"
    assert f"row: {hint.row}" in shown[0], f"expected the {key} hint first:\n{output}"
    for text in texts:
        assert text in shown[0], f"{text!r} not in the first hint:\n{shown[0]}"
    return shown[0]


@pytest.mark.slow
def test_daphne_removed_from_installed_apps(tmp_path, prerequisites):
    copy = broken_step3(tmp_path, "chatsite/settings.py", '    "daphne",\n', "")
    result = check_broken(copy)
    assert result.returncode == 1, result.output
    assert_first_hint(
        result.output,
        "runserver-not-asgi",
        "Django's own WSGI server",
        'put "daphne" first in INSTALLED_APPS',
    )
    assert "Runserver starts daphne" in failed_tests(result.output)
    assert 'FAIL  INSTALLED_APPS has no "daphne"' in result.output  # the settings, up front


@pytest.mark.slow
def test_as_asgi_missing(tmp_path, prerequisites):
    copy = broken_step3(
        tmp_path, "chat/routing.py", "consumers.ChatConsumer.as_asgi()", "consumers.ChatConsumer"
    )
    result = check_broken(copy)
    assert result.returncode == 1, result.output
    assert_first_hint(
        result.output,
        "as-asgi-missing",
        "object ChatConsumer can't be used in 'await' expression",
        "write consumers.ChatConsumer.as_asgi() in chat/routing.py",
    )
    assert "A message comes back over a real websocket" in failed_tests(result.output)


@pytest.mark.slow
def test_channel_layers_missing(tmp_path, prerequisites):
    copy = broken_step3(
        tmp_path, "chatsite/settings.py", r"\nCHANNEL_LAYERS = \{.*?\n\}\n", "\n", regex=True
    )
    result = check_broken(copy)
    assert result.returncode == 1, result.output
    assert_first_hint(
        result.output,
        "no-channel-layer",
        "'NoneType' object has no attribute 'group_add'",
        "add the CHANNEL_LAYERS block of step 3",
    )
    assert "Two daphne processes share rooms through redis" in failed_tests(result.output)


@pytest.mark.slow
def test_wrong_type_in_group_send(tmp_path, prerequisites):
    copy = broken_step3(
        tmp_path, "chat/consumers.py", '"type": "chat.message"', '"type": "chat.typo"'
    )
    result = check_broken(copy)
    assert result.returncode == 1, result.output
    assert_first_hint(
        result.output,
        "handler-type",
        "No handler for message type chat.typo",
        "chat_typo()",
        '"chat.message" runs chat_message()',
    )
    assert "Members of a room see each other and other rooms see nothing" in failed_tests(
        result.output
    )


def broken_copy(step, tmp_path, file: str, old: str, new: str):
    """A copy of a step with one mistake a student makes."""
    copy = copy_project(step.path, tmp_path)
    target = copy / file
    text = target.read_text()
    assert text.count(old) == 1, f"the mistake no longer applies to {file}: {old!r}"
    target.write_text(text.replace(old, new))
    return copy


@pytest.mark.slow
def test_the_bad_input_hint_is_not_shown_for_another_mistake(tmp_path, prerequisites):
    # A consumer that answers in the wrong key: the student's own suite fails, and so does
    # the check that runs it against the consumer without its input checks, whose output
    # is full of KeyError: 'message' by design. The input checks themselves are right.
    step = FIRST_WITH_OWN_SUITE
    copy = broken_copy(
        step, tmp_path, "chat/consumers.py",
        'await self.send(text_data=json.dumps({"message": message}))',
        'await self.send(text_data=json.dumps({"text": message}))',
    )  # fmt: skip
    own_suite = {"PYTEST_ADDOPTS": '-k "test_the_steps_own_suite or test_the_bad_input_tests"'}
    result = check(str(step.number), str(copy), env=own_suite)
    assert result.returncode == 1, result.output
    # That check failed: what it reports holds KeyError: 'message', as it always does.
    failed = failed_tests(result.output)
    assert "The bad input tests fail against a consumer without input checks" in failed, failed
    shown = hints_shown(result.output)
    assert not any(by_key("bad-input").row in hint for hint in shown), shown


@pytest.mark.slow
def test_a_failure_on_postgresql_only_gets_the_postgresql_hint(tmp_path, prerequisites):
    if find_bin_dir() is None:
        unavailable("PostgreSQL is not installed (sudo apt-get install postgresql)")
    # A message field of 10 characters: SQLite stores longer texts anyway, PostgreSQL
    # refuses them. The model and its migration agree, so migrate is happy on both.
    step = next(step for step in load_steps() if step.has("history"))
    copy = copy_project(step.path, tmp_path)
    for file, old in (
        ("chat/models.py", "text = models.TextField()"),
        ("chat/migrations/0001_initial.py", '("text", models.TextField())'),
    ):
        target = copy / file
        assert old in target.read_text(), f"{file} no longer has {old!r}"
        target.write_text(
            target.read_text().replace("models.TextField()", "models.CharField(max_length=10)")
        )
    later_joiner = {"PYTEST_ADDOPTS": '-k "test_a_later_joiner_gets_the_last_lines"'}
    result = check(str(step.number), str(copy), env=later_joiner)
    assert result.returncode == 1, result.output
    assert "PASS  A later joiner gets the last lines in order once (sqlite)" in result.output
    assert failed_tests(result.output) == [
        "A later joiner gets the last lines in order once (postgresql)"
    ]
    assert_first_hint(
        result.output,
        "postgresql-run",
        "that run serves your folder on PostgreSQL",
        "makemigrations --check",
    )


def test_a_folder_that_is_not_a_project_is_refused(tmp_path):
    result = check("3", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} has no manage.py" in result.output


def test_without_redis_the_skips_are_summed_up_with_what_to_install():
    # Locally a missing redis-server skips the tests that need it (CI=true would fail them).
    result = workshop("check", "3", env={"REDIS_SERVER": "/nonexistent", "CI": ""}, timeout=300)
    assert result.returncode == 3, result.output
    assert "Skipped, so this check is not complete:" in result.output
    assert re.search(r"\d+ test\(s\): redis-server was not found\. Install Redis", result.output)


# --- Which tests run by default ------------------------------------------------------------


def collected(step, full: bool, *options: str) -> set[str]:
    """The test ids `check STEP` runs on the reference folder (with --full or without);
    options go on to pytest (-m browser: of those, the browser tests)."""
    command = pytest_command(step, step.path, full, basetemp=pathlib.Path("unused"))
    command = [part for part in command if not part.startswith("--basetemp")]
    result = subprocess.run(
        [*command, "--collect-only", *options],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: none collected
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_by_default_check_runs_the_usual_mistakes_of_the_step_and_full_runs_all():
    last = load_steps()[-1]
    full, default = collected(last, full=True), collected(last, full=False)
    slow = collected(last, True, "-m", "slow")
    assert default < full
    # Nothing slow: sockets idle for a minute, the load test.
    assert slow and not default & slow
    # What a later change breaks most often, and the step's own tests, stay.
    assert any("::test_runserver_starts_daphne[" in test for test in default), default
    assert any("::test_the_steps_own_suite_passes[" in test for test in default), default
    # Each file once at least: every earlier lesson is tried.
    files = {test.split("::")[0] for test in full - slow}
    assert files == {test.split("::")[0] for test in default}, default
    # Chromium waits for pages: one browser test, of the newest page (the log page).
    browser_tests = default & collected(last, True, "-m", "browser")
    assert len(browser_tests) == 1, browser_tests
    assert "/test_tasks.py::" in next(iter(browser_tests)), browser_tests


def test_the_step_that_brings_a_capability_runs_all_of_its_tests():
    step = next(step for step in load_steps() if step.has("input-checks"))
    default = collected(step, full=False)
    input_checks = {test for test in collected(step, True) if "/test_input_checks.py::" in test}
    without_a_browser = input_checks - collected(step, True, "-m", "browser")
    assert len(without_a_browser) > 2, input_checks
    assert without_a_browser <= default
