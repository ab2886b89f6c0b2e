"""`python -m workshop doctor [STEP]`: is this laptop ready for a step? One line a check.

Each line is ok, FAIL or warn, and every FAIL or warn says the exact fix. The exit
code is non-zero when something the chosen step needs is missing: Redis only
matters from the step that brings the channel layer, the browser only for tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import textwrap
import urllib.parse

from ..browser import INSTALL_HINT as BROWSER_HINT
from ..browser import chromium_paths
from ..manifest import REPO_ROOT, Step, load_steps
from ..pins import CONSTRAINTS, exact_pins, installed_version, pin_mismatches, pyproject_pins
from ..ports import port_is_free
from ..redis_server import DEFAULT_URL, configured_url
from ..reference_steps import Layer, layer_of, layer_origin, task_origin, tasks_of
from ..student_python import Interpreter, InterpreterError, student_python

MINIMUM_PYTHON = (3, 11)
MINIMUM_REDIS = (5, 0)
PROBE_SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "project_probe.py"

START_REDIS = (
    "start Redis (Debian/Ubuntu: `sudo systemctl start redis-server`; macOS: "
    "`brew services start redis`; WSL: `sudo service redis-server start`; Docker: "
    "`docker run --rm -p 6379:6379 redis:7`), or set REDIS_URL to a Redis that runs"
)


@dataclasses.dataclass
class Result:
    """One line of the report."""

    status: str  # "ok", "FAIL" or "warn"
    what: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def _needed(ok: bool, needed: bool) -> str:
    return "ok" if ok else ("FAIL" if needed else "warn")


# --- Python and packages -----------------------------------------------------------------


def check_python(python: Interpreter, version: tuple[int, ...]) -> Result:
    text = ".".join(map(str, version))
    if version >= MINIMUM_PYTHON:
        return Result("ok", f"Python {text} ({python.path})")
    return Result(
        "FAIL",
        f"Python {text} ({python.path}) is too old: the workshop needs 3.11 or newer",
        "install Python 3.11+ from python.org (or your package manager), and make your "
        "virtualenv with it",
    )


def step_pins_of(project: pathlib.Path) -> dict[str, str]:
    requirements = project / "requirements.txt"
    if not requirements.is_file():
        return {}
    return exact_pins(requirements.read_text().splitlines())


def _packages_result(
    label: str, pins: dict[str, str], problem: str, fix: str, installed_in=installed_version
) -> Result:
    """ok when every pin is installed at its version, else `problem` naming each mismatch.

    installed_in(name) is the installed version: this interpreter's by default, the
    student's for their step packages."""
    problems = pin_mismatches(pins, installed_in)
    if not problems:
        return Result("ok", f"{label}: the {len(pins)} pins")
    return Result(problem, f"{label}: " + "; ".join(problems), fix)


def check_step_packages(
    project: pathlib.Path, python: Interpreter, installed: dict[str, str | None]
) -> Result:
    requirements = project / "requirements.txt"
    if not requirements.is_file():
        return Result("warn", f"no requirements.txt in {project}", "copy it from the step folder")
    return _packages_result(
        f"packages of {project.name}/requirements.txt",
        step_pins_of(project),
        "FAIL",
        f'{python.path} -m pip install -r "{requirements}"',
        installed_in=installed.get,
    )


def check_tool_packages() -> Result:
    return _packages_result(
        "test tools of pyproject.toml",
        pyproject_pins(extras=("dev",)),
        "warn",
        f'{sys.executable} -m pip install -c "{CONSTRAINTS}" -e "{REPO_ROOT}[dev]"',
    )


# --- Redis -------------------------------------------------------------------------------


def redis_problem(url: str) -> tuple[str, str] | tuple[None, tuple[int, ...]]:
    """(what is wrong, fix), or (None, version) when a usable Redis answers at url."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return (
            f"REDIS_URL {url!r} is not a Redis URL (scheme {parts.scheme or 'missing'!r})",
            "REDIS_URL must look like redis://HOST:PORT/DB, e.g. "
            f"`export REDIS_URL={DEFAULT_URL}` (PowerShell: "
            f"`$env:REDIS_URL = '{DEFAULT_URL}'`), or unset it to use that default",
        )
    if parts.scheme != "unix":
        host = parts.hostname or "127.0.0.1"
        try:
            socket.getaddrinfo(host, parts.port or 6379)
        except (socket.gaierror, UnicodeError) as error:
            return (
                f"Redis at {url}: the host name {host!r} cannot be resolved ({error})",
                "correct the host in REDIS_URL (for Redis on this machine use "
                f"{DEFAULT_URL}), or unset REDIS_URL",
            )
        except ValueError as error:  # a port that is not a number
            return (f"Redis at {url}: {error}", f"REDIS_URL must look like {DEFAULT_URL}")
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    except ValueError as error:
        return (f"Redis at {url}: {error}", f"REDIS_URL must look like {DEFAULT_URL}")
    try:
        client.ping()
        version = tuple(int(n) for n in client.info("server")["redis_version"].split("."))
    except redis.exceptions.AuthenticationError as error:
        return (
            f"Redis at {url} wants a password ({error})",
            "put it in the URL: redis://:PASSWORD@HOST:6379/0",
        )
    except (redis.exceptions.RedisError, OSError) as error:
        return (f"no Redis answers at {url} ({error})", START_REDIS)
    finally:
        client.close()
    if version < MINIMUM_REDIS:
        return (
            f"Redis {'.'.join(map(str, version))} at {url} is too old: channels_redis needs 5 "
            "or newer (else `ERR unknown command 'BZPOPMIN'`)",
            "install Redis 5 or newer (Docker: `docker run --rm -p 6379:6379 redis:7`)",
        )
    return None, version


def check_redis(url: str, needed: bool) -> Result:
    problem, detail = redis_problem(url)
    if problem is None:
        return Result("ok", f"Redis {'.'.join(map(str, detail))} answers at {url}")
    first = next((s.number for s in load_steps() if s.has("groups")), None)
    note = "" if needed else f" (needed from step {first} on)"
    return Result(_needed(False, needed), problem + note, detail)


# --- Browser and port ----------------------------------------------------------------------


def _major_version(program: str) -> tuple[int | None, str]:
    try:
        completed = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    output = completed.stdout.strip() or completed.stderr.strip()
    match = re.search(r"(\d+)\.\d+\.\d+", output)
    return (int(match.group(1)) if match else None), output.splitlines()[0] if output else ""


def check_browser(needed: bool) -> Result:
    browser, driver = chromium_paths()
    if browser is None or driver is None:
        missing = " and ".join(
            name for name, path in (("Chromium", browser), ("ChromeDriver", driver)) if not path
        )
        return Result(_needed(False, needed), f"{missing} not found (for the tests)", BROWSER_HINT)
    browser_major, browser_text = _major_version(browser)
    driver_major, driver_text = _major_version(driver)
    if browser_major is None or driver_major is None:
        return Result(
            _needed(False, needed),
            f"could not read the versions: {browser} says {browser_text!r}, "
            f"{driver} says {driver_text!r}",
            BROWSER_HINT,
        )
    if browser_major != driver_major:
        return Result(
            _needed(False, needed),
            f"Chromium {browser_major} but ChromeDriver {driver_major}: their major versions "
            "must match",
            "install the ChromeDriver of your browser's version (Debian/Ubuntu: "
            "`sudo apt-get install chromium chromium-driver` keeps them together), or set "
            "CHROME_BINARY and CHROMEDRIVER_PATH to a matching pair",
        )
    return Result("ok", f"Chromium {browser_major} and ChromeDriver {driver_major} ({driver})")


def check_port(port: int, step: Step) -> Result:
    if port_is_free(port):
        return Result("ok", f"port {port} is free")
    return Result(
        "FAIL",
        f"port {port} is in use (another server still running?)",
        "stop it (Ctrl-C in its terminal), or use another port: "
        f"python -m workshop run {step.number} --port {port + 1}",
    )


# --- The project's settings ----------------------------------------------------------------


def probe_project(project: pathlib.Path, python: pathlib.Path) -> dict:
    """What project_probe.py, run by the student's python, finds in the project (settings,
    ASGI app, WebSocket routes)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        completed = subprocess.run(
            [str(python), str(PROBE_SCRIPT), str(project)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"settings_error": "importing the settings took more than 2 minutes"}
    lines = completed.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        output = (completed.stdout + completed.stderr).strip().splitlines()
        return {"settings_error": output[-1] if output else f"exit {completed.returncode}"}


def check_layer(layer: dict | None, step: Step, settings_file: str) -> Result:
    """The student's default channel layer against the one the reference step sets; the
    advice names the step that set it (layer is what project_probe.py found)."""
    expected, origin = layer_of(step), layer_origin(step)
    as_set = f"as step {origin.number} sets it"
    if not layer or layer.get("backend") in (None, "None"):
        return Result(
            "FAIL",
            "no CHANNEL_LAYERS in settings: self.channel_layer is None, and the consumer "
            "fails with `'NoneType' object has no attribute 'group_add'`",
            f"add CHANNEL_LAYERS to {settings_file}: {expected.describe()} at REDIS_URL, {as_set}",
        )
    backend = layer["backend"]
    if backend != expected.backend:
        why = (
            "the in-memory layer lives inside one server process, so rooms do not reach other "
            "processes, nor workers and commands the server"
            if "InMemory" in backend
            else "the steps are written for Channels' default layer, which keeps a message "
            "in Redis until it is read (up to 60 s), so that a worker started late still gets it"
        )
        return Result(
            "warn",
            f"CHANNEL_LAYERS uses {backend}, where step {step.number} uses {expected.backend}; "
            f"{why}",
            f"set CHANNEL_LAYERS in {settings_file} to {expected.describe()} at REDIS_URL, "
            f"{as_set}",
        )
    capacity = layer.get("capacity")
    yours = Layer(backend, capacity if isinstance(capacity, int) else None)
    wanted, have = expected.effective_capacity, yours.effective_capacity
    if wanted is not None and have is not None and have < wanted:
        shown = f"{have}" if yours.capacity is not None else f"{have} (not set: its default)"
        return Result(
            "warn",
            f"the channel layer's capacity is {shown}; step {origin.number} sets {wanted}: "
            "each server process has one mailbox in Redis for all its sockets, and past "
            f"{have} waiting messages the layer drops them (a class of 200 pressing Enter "
            "5 times at once is 1,000 messages)",
            f'add "capacity": {wanted} to CHANNEL_LAYERS["default"]["CONFIG"] in '
            f"{settings_file}, {as_set}",
        )
    return Result("ok", f"CHANNEL_LAYERS: {yours.describe()}")


def check_worker(found: dict, apps: list[str], settings_file: str) -> list[Result]:
    """What `manage.py runworker mentions` needs (steps with a worker)."""
    results = []
    if "channels" not in apps:
        results.append(
            Result(
                "FAIL",
                'INSTALLED_APPS has no "channels": `manage.py runworker` answers '
                "`Unknown command: 'runworker'`",
                f'add "channels" to INSTALLED_APPS in {settings_file}',
            )
        )
    else:
        results.append(Result("ok", '"channels" is in INSTALLED_APPS (for runworker)'))
    scope_types = found.get("scope_types")
    if scope_types is not None and "channel" not in scope_types:
        results.append(
            Result(
                "FAIL",
                'asgi.py routes no "channel" scope: runworker fails with `No application '
                "configured for scope type 'channel'`",
                'add "channel": ChannelNameRouter({...}) to ProtocolTypeRouter in chatsite/asgi.py',
            )
        )
    elif scope_types is not None:
        results.append(Result("ok", 'asgi.py routes the "channel" scope (for runworker)'))
    return results


def check_celery(celery: dict | None, step: Step) -> list[Result]:
    """What `celery -A chatsite worker` needs (steps with tasks); celery is what
    project_probe.py found (None: no chatsite/celery.py). The tasks, and what each takes,
    are those of the step's chat/tasks.py."""
    first = next(s for s in load_steps() if s.has("tasks"))
    if celery is None:
        return [
            Result(
                "FAIL",
                "no chatsite/celery.py: `celery -A chatsite worker` finds no Celery app",
                f"write chatsite/celery.py as step {first.number} has it (Celery's Django guide)",
            )
        ]
    if "error" in celery:
        return [
            Result(
                "FAIL",
                f"chatsite/celery.py does not load: {celery['error']}",
                "fix that line; `celery -A chatsite worker` shows the whole error",
            )
        ]
    results = []
    if not celery["loaded_by_django"]:
        results.append(
            Result(
                "FAIL",
                "chatsite/__init__.py does not import the Celery app: the server sends its jobs "
                "to Celery's default broker (amqp://, RabbitMQ), and the page's job fails",
                'add `from .celery import app as celery_app` and `__all__ = ("celery_app",)` '
                "to chatsite/__init__.py",
            )
        )
    broker = celery["broker"]
    if not broker.startswith(("redis://", "rediss://")):
        if broker in ("", "None"):  # Celery then connects to its default, RabbitMQ
            broker = "not set, so amqp:// (RabbitMQ)"
        results.append(
            Result(
                "FAIL",
                f"Celery's broker is {broker}, not Redis: the worker prints "
                "`consumer: Cannot connect to amqp://...`",
                "set CELERY_BROKER_URL = REDIS_URL in settings.py, and keep config_from_object("
                '"django.conf:settings", namespace="CELERY") in chatsite/celery.py',
            )
        )
    registered = []
    for task, parameters in tasks_of(step).items():
        if task not in celery["tasks"]:
            results.append(
                Result(
                    "FAIL",
                    f"the worker would not know {task}: it prints `Received unregistered "
                    f"task of type '{task}'`",
                    "keep app.autodiscover_tasks() in chatsite/celery.py, and the task in "
                    "chat/tasks.py",
                )
            )
            continue
        takes = celery.get("parameters", {}).get(task)
        if takes is not None and tuple(takes) != parameters:
            since = task_origin(step, task)
            results.append(
                Result(
                    "warn",
                    f"{task} takes ({', '.join(takes)}), where step {step.number}'s takes "
                    f"({', '.join(parameters)}), as since step {since.number}: unless your "
                    "consumer's .delay(...) gives it just those, the worker fails each job "
                    "with a TypeError",
                    f"give it step {since.number}'s parameters and call it as that step's "
                    "chat/consumers.py does; then restart the Celery worker",
                )
            )
        registered.append(f"{task}({', '.join(parameters)})")
    if not results:
        results.append(
            Result(
                "ok",
                f"Celery app: broker {celery['broker']}, task {', '.join(registered)} registered",
            )
        )
    return results


def check_project(
    project: pathlib.Path, step: Step, python: pathlib.Path = pathlib.Path(sys.executable)
) -> list[Result]:
    """daphne before staticfiles, ASGI_APPLICATION, CHANNEL_LAYERS, as_asgi() in routing,
    as `python` (the student's interpreter) imports them."""
    found = probe_project(project, python)
    settings_file = found.get("settings_module", "chatsite.settings").replace(".", "/") + ".py"
    if "settings_error" in found:
        return [
            Result(
                "FAIL",
                f"cannot import {settings_file}: {found['settings_error']}",
                f'fix that line; `python manage.py check` in "{project}" shows the whole error',
            )
        ]
    results = []
    apps = found.get("installed_apps", [])
    static = "django.contrib.staticfiles"
    if "daphne" not in apps:
        results.append(
            Result(
                "FAIL",
                'INSTALLED_APPS has no "daphne": `runserver` is Django\'s WSGI server, and '
                "WebSockets get 404 (`Not Found: /ws/...`)",
                f'add "daphne" as the first entry of INSTALLED_APPS in {settings_file}',
            )
        )
    elif static in apps and apps.index("daphne") > apps.index(static):
        results.append(
            Result(
                "FAIL",
                f'"daphne" comes after "{static}" in INSTALLED_APPS: `runserver` stays WSGI, '
                "and WebSockets get 404",
                f'move "daphne" to the top of INSTALLED_APPS in {settings_file}',
            )
        )
    else:
        results.append(Result("ok", f'"daphne" comes before "{static}" in INSTALLED_APPS'))

    asgi = found.get("asgi_application")
    if not asgi:
        results.append(
            Result(
                "FAIL",
                f"ASGI_APPLICATION is not set in {settings_file}",
                f'add ASGI_APPLICATION = "chatsite.asgi.application" to {settings_file}',
            )
        )
    elif "asgi_error" in found:
        results.append(
            Result(
                "FAIL",
                f"ASGI_APPLICATION = {asgi!r} does not load: {found['asgi_error']}",
                "fix that line (the error above names the file)",
            )
        )
    else:
        results.append(Result("ok", f"ASGI_APPLICATION = {asgi!r}"))

    if step.has("groups"):
        results.append(check_layer(found.get("channel_layer"), step, settings_file))

    routes = found.get("websocket_routes")
    if step.has("websocket") and routes is not None and "asgi_error" not in found:
        bare = [route["callback"] for route in routes if route["is_class"]]
        if not routes:
            results.append(
                Result(
                    "FAIL",
                    'asgi.py routes no WebSockets (no "websocket" in ProtocolTypeRouter)',
                    "route them as step 2's chatsite/asgi.py does",
                )
            )
        elif bare:
            results.append(
                Result(
                    "FAIL",
                    f"chat/routing.py routes to {bare[0]} itself: Channels 4 then fails with "
                    f"`TypeError: object {bare[0]} can't be used in 'await' expression`",
                    f"write consumers.{bare[0]}.as_asgi() in chat/routing.py",
                )
            )
        else:
            results.append(Result("ok", f"{len(routes)} WebSocket route(s), each with as_asgi()"))

    if step.has("worker"):
        results += check_worker(found, apps, settings_file)
    if step.has("tasks") and "celery" in found:  # the probe got as far as Celery
        results += check_celery(found["celery"], step)

    login = found.get("login_page")
    if step.has("login") and login is not None:
        if "error" in login:
            results.append(
                Result(
                    "FAIL",
                    f"no login page: {login['error']}",
                    'include path("accounts/", include("django.contrib.auth.urls")) in '
                    "chatsite/urls.py and write chat/templates/registration/login.html, "
                    f"as step {step.number} does",
                )
            )
        else:
            results.append(Result("ok", f"the login page is at {login['url']}"))
    return results


# --- The report ----------------------------------------------------------------------------


def diagnose(
    step: Step,
    project: pathlib.Path,
    python: Interpreter,
    port: int = 8000,
    redis_url: str | None = None,
    for_tests: bool = False,
) -> list[Result]:
    url = redis_url or configured_url()
    browser_needed = for_tests or step.has("student-tests")
    try:
        version, installed = python.report(list(step_pins_of(project)))
    except InterpreterError as error:
        return [
            Result(
                "FAIL",
                str(error),
                'give the python of your virtualenv: --python PATH (`python -c "import sys; '
                'print(sys.executable)"` prints it), or activate that virtualenv',
            )
        ]
    return [
        check_python(python, version),
        check_step_packages(project, python, installed),
        check_tool_packages(),
        check_redis(url, needed=step.has("groups")),
        check_browser(needed=browser_needed),
        check_port(port, step),
        *check_project(project, step, python.path),
    ]


def render(results: list[Result], width: int = 100) -> str:
    lines = []
    for result in results:
        lines += textwrap.wrap(
            result.what,
            width,
            initial_indent=f"  {result.status:<4}  ",
            subsequent_indent=" " * 8,
            break_long_words=False,
            break_on_hyphens=False,
        )
        if result.fix and result.status != "ok":
            lines.append(f"        fix: {result.fix}")  # not wrapped: commands stay whole
    return "\n".join(lines)


NOT_CHECKED = (
    "doctor reads your settings and set-up; `check` runs the tests: "
    "python -m workshop check {step} {folder}"
)


def run_doctor(
    step: Step,
    project: pathlib.Path | None = None,
    port: int = 8000,
    redis_url: str | None = None,
    for_tests: bool = False,
    python: str | None = None,
) -> int:
    given = pathlib.Path(project).resolve() if project else None
    project = given or step.path
    if not (project / "manage.py").is_file():
        print(f"[workshop] {project} has no manage.py: give the folder of your Django project.")
        return 2
    interpreter = student_python(python, given)
    print(f"Workshop doctor: step {step.number} ({step.title})")
    print(f"Project: {project}")
    print(f"Python:  {interpreter.path} ({interpreter.why})\n", flush=True)
    results = diagnose(step, project, interpreter, port, redis_url, for_tests)
    print(render(results))
    failures = [result for result in results if result.failed]
    warnings = [result for result in results if result.status == "warn"]
    print()
    print(NOT_CHECKED.format(step=step.number, folder=given or "path/to/your/folder"))
    if failures:
        print(
            f"{len(failures)} problem(s) to fix before step {step.number} runs: "
            "the FAIL lines above, each with its fix."
        )
        return 1
    extra = f" ({len(warnings)} warning(s) above)" if warnings else ""
    print(f"All set for step {step.number}{extra}.")
    return 0
