"""`python -m workshop doctor`: one line per check, each problem with its fix, and an exit
code that says whether the chosen step can run."""

import re
import socket
import socketserver
import stat
import sys
import threading
import venv

import pytest

from tests.workshop_command import closed_redis_url, workshop
from workshop.manifest import get_step, load_steps
from workshop.pins import pin_mismatches
from workshop.ports import free_port
from workshop.reference_steps import layer_of, layer_origin, tasks_of
from workshop.step_server import copy_project
from workshop.student_python import venv_python


def doctor(*args: str, redis_url: str | None = None, python: str | None = sys.executable, **env):
    """Run doctor; python is the student's interpreter (None: let doctor find it)."""
    env = dict(env)
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    chosen = ("--python", python) if python else ()
    # A free port, so that a server running on 8000 on this machine cannot fail the check.
    return workshop("doctor", *args, *chosen, "--port", str(free_port()), env=env, timeout=180)


def report(output: str) -> list[tuple[str, str, str]]:
    """(status, what, fix) for each line of the report, wrapped lines joined."""
    entries = []
    for line in output.splitlines():
        status = line[2:6].strip()
        if line.startswith("  ") and status in ("ok", "FAIL", "warn"):
            entries.append([status, line[8:].strip(), ""])
        elif entries and line.startswith("        fix: "):
            entries[-1][2] = line.removeprefix("        fix: ")
        elif entries and line.startswith(" " * 8) and not entries[-1][2]:
            entries[-1][1] += " " + line.strip()
    return [tuple(entry) for entry in entries]


def line_of(output: str, status: str, text: str) -> str:
    """What the report says on the line with that status containing text."""
    for found_status, what, _ in report(output):
        if found_status == status and text in what:
            return what
    raise AssertionError(f"no {status} line with {text!r} in:\n{output}")


def fix_after(output: str, text: str) -> str:
    """The fix of the report line containing text."""
    return next(fix for _, what, fix in report(output) if text in what)


def broken(tmp_path, step_number: int, file: str, old: str, new: str):
    """A copy of a step with `old` replaced by `new` in one file."""
    copy = copy_project(get_step(step_number).path, tmp_path)
    target = copy / file
    text = target.read_text()
    assert old in text, f"{file} of step {step_number} no longer contains {old!r}"
    target.write_text(text.replace(old, new))
    return copy


# --- Redis ---------------------------------------------------------------------------


def test_a_redis_that_is_down_fails_the_check_naming_the_url_and_how_to_start_it():
    url = closed_redis_url()
    result = doctor("3", redis_url=url)
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", f"no Redis answers at {url}")
    assert "sudo systemctl start redis-server" in fix_after(result.output, url)
    assert "problem(s) to fix before step 3 runs" in result.output


def test_an_unresolvable_redis_host_is_named_with_its_fix():
    url = "redis://no-such-redis-host.invalid:6379/0"
    result = doctor("3", redis_url=url)
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "'no-such-redis-host.invalid' cannot be resolved")
    assert "correct the host in REDIS_URL" in fix_after(result.output, "cannot be resolved")


def test_a_redis_url_with_the_wrong_scheme_is_named_with_its_fix():
    url = "http://127.0.0.1:6379/0"
    result = doctor("3", redis_url=url)
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", f"REDIS_URL '{url}' is not a Redis URL (scheme 'http')")
    assert "redis://HOST:PORT/DB" in fix_after(result.output, "is not a Redis URL")


def test_a_step_without_groups_does_not_need_redis():
    result = doctor("2", redis_url=closed_redis_url())
    assert result.returncode == 0, result.output
    assert "(needed from step 3 on)" in line_of(result.output, "warn", "no Redis answers")


class _OldRedis(socketserver.StreamRequestHandler):
    """Just enough of the Redis protocol to claim to be Redis 4.0.9."""

    def handle(self):
        while True:
            header = self.rfile.readline()
            if not header:
                return
            count = int(header[1:])
            words = []
            for _ in range(count):
                length = int(self.rfile.readline()[1:])
                words.append(self.rfile.read(length + 2)[:-2].decode().upper())
            if words[0] == "PING":
                self.wfile.write(b"+PONG\r\n")
            elif words[0] == "INFO":
                info = b"# Server\r\nredis_version:4.0.9\r\n"
                self.wfile.write(b"$%d\r\n%s\r\n" % (len(info), info))
            else:
                self.wfile.write(b"+OK\r\n")


def test_a_redis_older_than_5_is_named_with_its_fix():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OldRedis)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"redis://127.0.0.1:{server.server_address[1]}/0"
        result = doctor("3", redis_url=url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.output
    line = line_of(result.output, "FAIL", f"Redis 4.0.9 at {url} is too old")
    assert "BZPOPMIN" in line or "BZPOPMIN" in result.output
    assert "Redis 5 or newer" in fix_after(result.output, "is too old")


# --- A good set-up ---------------------------------------------------------------------


@pytest.mark.redis
def test_a_good_set_up_passes(redis_server):
    result = doctor("3", redis_url=redis_server.url)
    assert result.returncode == 0, result.output
    assert re.search(
        rf"ok +Redis \d+\.\d+\.\d+ answers at {re.escape(redis_server.url)}", result.output
    )
    for text in (
        "Python 3.",
        "packages of step03_channel_layer/requirements.txt: the",
        '"daphne" comes before',
        "ASGI_APPLICATION",
        "CHANNEL_LAYERS",
    ):
        line_of(result.output, "ok", text)
    assert "FAIL" not in result.output
    assert "All set for step 3" in result.output
    assert "doctor reads your settings and set-up; `check` runs the tests" in result.output


# --- The student's own Python ------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_venv(tmp_path_factory):
    """A virtualenv with nothing installed: a student who did not `pip install -r` there."""
    folder = tmp_path_factory.mktemp("student") / "venv"
    venv.EnvBuilder(with_pip=False).create(folder)
    return folder


@pytest.mark.parametrize("chosen_by", ["--python", "active virtualenv", ".venv in the folder"])
def test_doctor_checks_the_python_the_student_runs_not_its_own(chosen_by, empty_venv, tmp_path):
    copy = copy_project(get_step(3).path, tmp_path)
    python = venv_python(empty_venv)
    if chosen_by == "--python":
        result = doctor("3", "--project", str(copy), python=str(python), VIRTUAL_ENV="")
    elif chosen_by == "active virtualenv":
        result = doctor("3", "--project", str(copy), python=None, VIRTUAL_ENV=str(empty_venv))
    else:
        venv.EnvBuilder(with_pip=False).create(copy / ".venv")
        python = venv_python(copy / ".venv")
        result = doctor("3", "--project", str(copy), python=None, VIRTUAL_ENV="")
    assert result.returncode == 1, result.output
    assert f"Python:  {python} (" in result.output
    line = line_of(result.output, "FAIL", "packages of")
    assert "channels-redis not installed (4.3.0 pinned)" in line
    assert fix_after(result.output, "packages of").startswith(f"{python} -m pip install -r ")


# --- Browser, port, packages ----------------------------------------------------------------


def fake_program(path, output: str):
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_chromium_and_chromedriver_of_different_majors_fail_when_tests_need_them(tmp_path):
    browser = fake_program(tmp_path / "chromium", "Chromium 120.0.6099.71 built on Debian")
    driver = fake_program(tmp_path / "chromedriver", "ChromeDriver 121.0.6167.85 (abc)")
    env = {"CHROME_BINARY": browser, "CHROMEDRIVER_PATH": driver}
    result = doctor("2", "--tests", **env)
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "Chromium 120 but ChromeDriver 121")
    assert "chromium-driver" in fix_after(result.output, "ChromeDriver 121")
    # Without --tests, step 2 does not need a browser: a warning only.
    assert doctor("2", **env).returncode == 0


def test_a_port_in_use_fails_with_another_port_to_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = workshop("doctor", "1", "--port", str(port), env={"REDIS_URL": closed_redis_url()})
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", f"port {port} is in use")
    assert f"--port {port + 1}" in fix_after(result.output, f"port {port} is in use")


def test_a_package_that_differs_from_its_pin_is_named():
    assert pin_mismatches({"Django": "0.0.1"}) == [
        f"Django {__import__('django').__version__} installed, 0.0.1 pinned"
    ]
    assert pin_mismatches({"no-such-package-here": "1.0"}) == [
        "no-such-package-here not installed (1.0 pinned)"
    ]


# --- The project's own settings ----------------------------------------------------------


def test_daphne_after_staticfiles_fails_with_its_fix(tmp_path):
    copy = broken(
        tmp_path, 2, "chatsite/settings.py",
        '    "daphne",\n', "",
    )  # fmt: skip
    settings = copy / "chatsite/settings.py"
    text = settings.read_text()
    settings.write_text(
        text.replace(
            '"django.contrib.staticfiles",\n', '"django.contrib.staticfiles",\n    "daphne",\n'
        )
    )
    result = doctor("2", "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", '"daphne" comes after "django.contrib.staticfiles"')
    assert 'move "daphne" to the top' in fix_after(result.output, "comes after")


def test_daphne_missing_fails_with_its_fix(tmp_path):
    copy = broken(tmp_path, 1, "chatsite/settings.py", '    "daphne",\n', "")
    result = doctor("1", "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", 'INSTALLED_APPS has no "daphne"')
    assert 'add "daphne" as the first entry' in fix_after(result.output, 'has no "daphne"')


def test_asgi_application_missing_fails_with_its_fix(tmp_path):
    copy = broken(
        tmp_path, 2, "chatsite/settings.py", 'ASGI_APPLICATION = "chatsite.asgi.application"', ""
    )
    result = doctor("2", "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "ASGI_APPLICATION is not set")


def test_channel_layers_missing_fails_for_a_step_with_groups(tmp_path):
    copy = copy_project(get_step(3).path, tmp_path)
    settings = copy / "chatsite/settings.py"
    text, count = re.subn(r"\nCHANNEL_LAYERS = \{.*?\n\}\n", "\n", settings.read_text(), flags=re.S)
    assert count == 1
    settings.write_text(text)
    result = doctor("3", "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "no CHANNEL_LAYERS in settings")
    fix = fix_after(result.output, "no CHANNEL_LAYERS")
    assert "channels_redis.core.RedisChannelLayer (capacity 100, its default)" in fix
    assert fix.endswith("as step 3 sets it"), fix


# The step that sets the channel layer's capacity (step 06), read from the steps as doctor
# reads them (the last step with a capacity: the keeping-up step's layer has none); a
# student's folder of the step after it is told what that step set.
CAPACITY_STEP = layer_origin(
    [step for step in load_steps() if getattr(layer_of(step), "capacity", None)][-1]
)
AFTER_IT = get_step(CAPACITY_STEP.number + 1)
LAYER = layer_of(CAPACITY_STEP)
LAYER_BLOCK = re.compile(r"\nCHANNEL_LAYERS = \{.*?\n\}\n", re.S)


def with_layer(tmp_path, block: str):
    """A copy of the step after the capacity step with its CHANNEL_LAYERS replaced."""
    copy = copy_project(AFTER_IT.path, tmp_path)
    settings = copy / "chatsite/settings.py"
    text, count = LAYER_BLOCK.subn(f"\nCHANNEL_LAYERS = {block}\n", settings.read_text())
    assert count == 1, "the step's CHANNEL_LAYERS block is not where this test looks"
    settings.write_text(text)
    return copy


def test_the_layer_advice_names_the_capacity_the_step_set(tmp_path):
    assert LAYER.capacity and CAPACITY_STEP.number > 3, "no step sets the capacity any more"
    redis = "{'hosts': ['redis://127.0.0.1:6379/0']}"
    copy = with_layer(
        tmp_path, f"{{'default': {{'BACKEND': '{LAYER.backend}', 'CONFIG': {redis}}}}}"
    )
    result = doctor(str(AFTER_IT.number), "--project", str(copy), redis_url=closed_redis_url())
    what = line_of(result.output, "warn", "the channel layer's capacity is 100 (not set")
    assert f"step {CAPACITY_STEP.number} sets {LAYER.capacity}" in what
    fix = fix_after(result.output, "capacity is 100")
    assert f'add "capacity": {LAYER.capacity} to CHANNEL_LAYERS["default"]["CONFIG"]' in fix
    assert fix.endswith(f"as step {CAPACITY_STEP.number} sets it"), fix


@pytest.mark.parametrize(
    "backend",
    ["channels.layers.InMemoryChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"],
)
def test_another_layer_is_told_the_steps_layer_and_where_it_was_set(tmp_path, backend):
    copy = with_layer(tmp_path, f"{{'default': {{'BACKEND': '{backend}'}}}}")
    result = doctor(str(AFTER_IT.number), "--project", str(copy), redis_url=closed_redis_url())
    what = line_of(result.output, "warn", f"CHANNEL_LAYERS uses {backend}")
    assert f"where step {AFTER_IT.number} uses {LAYER.backend}" in what
    fix = fix_after(result.output, f"CHANNEL_LAYERS uses {backend}")
    assert f'{LAYER.backend} with "capacity": {LAYER.capacity} at REDIS_URL' in fix
    assert fix.endswith(f"as step {CAPACITY_STEP.number} sets it"), fix


def test_the_layer_of_each_reference_step_passes():
    # Before the capacity step, its default; from it on, the capacity it sets.
    for step in (get_step(CAPACITY_STEP.number - 1), CAPACITY_STEP):
        result = doctor(str(step.number), redis_url=closed_redis_url())
        line_of(result.output, "ok", f"CHANNEL_LAYERS: {layer_of(step).describe()}")


def test_a_consumer_routed_without_as_asgi_fails_with_its_fix(tmp_path):
    copy = broken(
        tmp_path, 2, "chat/routing.py", "consumers.ChatConsumer.as_asgi()", "consumers.ChatConsumer"
    )
    result = doctor("2", "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "routes to ChatConsumer itself")
    assert "consumers.ChatConsumer.as_asgi()" in fix_after(result.output, "itself")


def test_a_step_with_users_and_no_login_page_fails_with_its_fix(tmp_path):
    step = next(s for s in load_steps() if s.has("login"))
    copy = broken(
        tmp_path,
        step.number,
        "chatsite/urls.py",
        '    path("accounts/", include("django.contrib.auth.urls")),\n',
        "",
    )
    result = doctor(str(step.number), "--project", str(copy))
    assert result.returncode == 1, result.output
    line_of(result.output, "FAIL", "no login page: django.urls.exceptions.NoReverseMatch")
    assert "django.contrib.auth.urls" in fix_after(result.output, "no login page")


def test_settings_that_do_not_import_are_shown_with_the_error(tmp_path):
    copy = broken(tmp_path, 1, "chatsite/settings.py", "DEBUG = ", "DEBUG = (")
    result = doctor("1", "--project", str(copy))
    assert result.returncode == 1, result.output
    line = line_of(result.output, "FAIL", "cannot import chatsite/settings.py")
    assert "SyntaxError" in line


def test_the_old_browser_variable_still_works_and_says_its_new_name(tmp_path):
    browser = fake_program(tmp_path / "chromium", "Chromium 120.0.6099.71 built on Debian")
    driver = fake_program(tmp_path / "chromedriver", "ChromeDriver 121.0.6167.85 (abc)")
    result = doctor("2", "--tests", CHROMIUM_PATH=browser, CHROMEDRIVER_PATH=driver)
    line_of(result.output, "FAIL", "Chromium 120 but ChromeDriver 121")  # it was used
    assert "CHROMIUM_PATH is now called CHROME_BINARY" in result.output


# The first step with each of these capabilities, as steps.toml says.
WORKER_STEP = next(step for step in load_steps() if step.has("worker"))
TASKS_STEP = next(step for step in load_steps() if step.has("tasks"))
LAST_STEP = load_steps()[-1]


def test_a_step_with_a_worker_needs_channels_in_installed_apps(tmp_path):
    copy = broken(tmp_path, WORKER_STEP.number, "chatsite/settings.py", '    "channels",\n', "")
    result = doctor(str(WORKER_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    what = line_of(result.output, "FAIL", 'INSTALLED_APPS has no "channels"')
    assert "Unknown command: 'runworker'" in what
    assert 'add "channels"' in fix_after(result.output, 'no "channels"')


def test_a_step_with_a_worker_needs_the_channel_route(tmp_path):
    copy = broken(
        tmp_path, WORKER_STEP.number, "chatsite/asgi.py", '"channel": ChannelNameRouter', '"x":dict'
    )
    result = doctor(str(WORKER_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    line_of(result.output, "FAIL", "No application configured for scope type 'channel'")
    assert "ChannelNameRouter" in fix_after(result.output, 'routes no "channel" scope')


def test_the_step_before_the_worker_is_not_asked_for_one():
    result = doctor(str(WORKER_STEP.number - 1), redis_url=closed_redis_url())
    assert "runworker" not in result.output, result.output


@pytest.mark.parametrize("step", [TASKS_STEP, LAST_STEP], ids=lambda step: step.label)
def test_a_step_with_tasks_passes_its_celery_checks(step):
    result = doctor(str(step.number), redis_url=closed_redis_url())
    what = line_of(result.output, "ok", "Celery app: broker redis://")
    ((task, parameters),) = tasks_of(step).items()
    assert f"{task}({', '.join(parameters)}) registered" in what


def test_a_task_that_takes_what_an_earlier_step_gave_is_named_with_the_step_it_changed(tmp_path):
    # The stoppable job takes a job id too: a folder carried on with the earlier task.
    earlier, now = tasks_of(TASKS_STEP), tasks_of(LAST_STEP)
    ((task, before),) = earlier.items()
    assert now[task] != before, "the task takes the same in both steps; choose another pair"
    name = task.rpartition(".")[2]
    copy = broken(
        tmp_path, LAST_STEP.number, "chat/tasks.py", f"def {name}({', '.join(now[task])})",
        f"def {name}({', '.join(before)})",
    )  # fmt: skip
    result = doctor(str(LAST_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    what = line_of(result.output, "warn", f"{task} takes ({', '.join(before)})")
    assert f"step {LAST_STEP.number}'s takes ({', '.join(now[task])})" in what
    assert "TypeError" in what
    assert "restart the Celery worker" in fix_after(result.output, f"{task} takes")


def test_a_step_with_tasks_needs_the_app_loaded_with_django(tmp_path):
    copy = broken(
        tmp_path, TASKS_STEP.number, "chatsite/__init__.py", "from .celery import app", "app=None #"
    )
    result = doctor(str(TASKS_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    line_of(result.output, "FAIL", "chatsite/__init__.py does not import the Celery app")
    assert "from .celery import app as celery_app" in fix_after(result.output, "__init__.py")


def test_a_step_with_tasks_needs_the_broker_from_the_settings(tmp_path):
    copy = broken(
        tmp_path, TASKS_STEP.number, "chatsite/celery.py", 'namespace="CELERY"', 'namespace="NONE"'
    )
    result = doctor(str(TASKS_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    line_of(result.output, "FAIL", "Celery's broker is not set, so amqp://")
    assert "CELERY_BROKER_URL" in fix_after(result.output, "Celery's broker")


def test_a_step_with_tasks_needs_its_tasks_found(tmp_path):
    copy = broken(tmp_path, TASKS_STEP.number, "chatsite/celery.py", "app.autodiscover_tasks()", "")
    # The server would still import chat.tasks (consumers.py does); the worker would not.
    result = doctor(str(TASKS_STEP.number), "--project", str(copy), redis_url=closed_redis_url())
    line_of(result.output, "FAIL", "Received unregistered task of type 'chat.tasks.follow_log'")
    assert "autodiscover_tasks" in fix_after(result.output, "unregistered")
