"""`python -m workshop run STEP`: serve any step at http://127.0.0.1:8000."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile

from ..accounts import DEMO, create_accounts
from ..manifest import Step
from ..ports import port_is_free
from ..redis_server import (
    INSTALL_HINT,
    RedisServer,
    RedisUnavailable,
    configured_url,
    find_redis_server,
    ping,
)
from ..step_server import StepServerError, project_env, run_manage
from ..step_worker import CeleryWorker, StepWorker

OVERRIDES_DIR = pathlib.Path(__file__).resolve().parent.parent / "overrides"


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def _say_demo_account() -> None:
    _say(
        f"Log in as {DEMO.username!r} with the password {DEMO.password!r} (a demo "
        "account in this run's scratch database, staff: it may follow the logs), or sign "
        "up for more."
    )


def choose_channel_layer(stack: contextlib.ExitStack) -> str | None:
    """A Redis URL to use (REDIS_URL, a local Redis, or one we start), or None for in-memory."""
    url = configured_url()
    _say(f"Looking for Redis at {url} ...")
    if ping(url):
        _say(f"Using the Redis at {url}.")
        return url
    if find_redis_server():
        try:
            server = stack.enter_context(RedisServer())
        except RedisUnavailable as error:
            _say(f"Could not start redis-server: {error}")
        else:
            _say(f"Started a private redis-server at {server.url} (it stops with this command).")
            return server.url
    banner = [
        "",
        "*" * 72,
        "  NO REDIS: serving with Channels' in-memory channel layer instead.",
        "  Rooms work inside this one server process; a second process (or",
        "  `workshop run` in another terminal) would not see these messages.",
        f"  To get Redis: {INSTALL_HINT}",
        "*" * 72,
        "",
    ]
    print("\n".join(banner), flush=True)
    return None


def _start_beside(stack: contextlib.ExitStack, worker, env: dict, log_name: str):
    """Start a worker process beside the server, its log next to the scratch database; it
    stops with the server."""
    worker.log_path = pathlib.Path(env["WORKSHOP_SCRATCH_DB"]).parent / log_name
    worker.start()  # StepServerError when it cannot: serve() reports it
    stack.callback(worker.stop)
    return worker


def start_worker(
    stack: contextlib.ExitStack, project_dir: pathlib.Path, env: dict, redis_url: str | None
) -> None:
    """Start `manage.py runworker mentions` beside the server (steps with a worker)."""
    if redis_url is None:
        _say(
            "No Redis, so no worker: `manage.py runworker mentions` could not reach this "
            "server through the in-memory layer, so an @mention notifies nobody."
        )
        return
    worker = _start_beside(stack, StepWorker(project_dir, env, redis_url), env, "runworker.log")
    _say(f"Started `manage.py runworker mentions` (delivers @mentions; log: {worker.log_path}).")


def start_celery_worker(
    stack: contextlib.ExitStack, project_dir: pathlib.Path, env: dict, redis_url: str | None
) -> None:
    """Start `celery -A chatsite worker` beside the server (steps with tasks)."""
    if redis_url is None:
        _say(
            "No Redis, so no Celery worker: it needs Redis as its broker, and the /logs/ "
            "page cannot start its jobs."
        )
        return
    worker = _start_beside(stack, CeleryWorker(project_dir, env), env, "celery.log")
    logs = pathlib.Path(env["CHAT_LOG_DIR"])
    _say(
        f"Started `celery -A chatsite worker` (runs the /logs/ page's jobs; log: "
        f"{worker.log_path}). The page follows {logs}/access.log and error.log: "
        f"append to them, e.g. echo hello >> {logs / 'access.log'}"
    )


# A `manage.py` beside the scratch database: the step's own, run with this server's
# settings, database and Redis, so that a command typed in another terminal (step 9's
# `notify` and `announce`) reaches the pages this server serves.
_MANAGE_SCRIPT = """\
\"\"\"`python manage.py ...` for the step `python -m workshop run` serves, with its settings,
scratch database and Redis. Made by that command; gone when it stops.\"\"\"

import os
import runpy
import sys

os.environ.update({env!r})
os.chdir({project!r})
sys.path[:0] = [{project!r}, {overrides!r}]
sys.argv[0] = "manage.py"
runpy.run_path("manage.py", run_name="__main__")
"""


def write_manage_script(project_dir: pathlib.Path, env: dict[str, str]) -> pathlib.Path:
    """A script that runs the project's manage.py as this run serves it (see _MANAGE_SCRIPT)."""
    script = pathlib.Path(env["WORKSHOP_SCRATCH_DB"]).parent / "manage.py"
    names = ("DJANGO_SETTINGS_MODULE", "WORKSHOP_SCRATCH_DB", "WORKSHOP_IN_MEMORY_LAYER")
    chosen = {name: env[name] for name in (*names, "REDIS_URL") if name in env}
    script.write_text(
        _MANAGE_SCRIPT.format(env=chosen, project=str(project_dir), overrides=str(OVERRIDES_DIR)),
        encoding="utf-8",
    )
    return script


def serve(step: Step, port: int = 8000, project_dir: pathlib.Path | None = None) -> int:
    """Serve a step (or a folder laid out like one) until Ctrl-C; returns an exit code."""
    project_dir = pathlib.Path(project_dir or step.path).resolve()
    if not port_is_free(port):
        _say(
            f"Port {port} is already in use (another server still running?). Stop it, "
            f"or choose another port: python -m workshop run {step.number} --port {port + 1}"
        )
        return 2
    with contextlib.ExitStack() as stack:
        scratch = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ws-run-")))
        extra = {
            "DJANGO_SETTINGS_MODULE": "workshop_run_settings",
            "WORKSHOP_SCRATCH_DB": str(scratch / "db.sqlite3"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(OVERRIDES_DIR), os.environ.get("PYTHONPATH")])
            ),
        }
        if step.has("tasks"):
            # The log files the /logs/ page follows: in the scratch folder, not the step's.
            extra["CHAT_LOG_DIR"] = str(scratch / "logs")
            (scratch / "logs").mkdir()
            for name in ("access.log", "error.log"):
                (scratch / "logs" / name).touch()
        redis_url = None
        if step.has("groups"):
            redis_url = choose_channel_layer(stack)
            if redis_url is None:
                extra["WORKSHOP_IN_MEMORY_LAYER"] = "1"
        env = project_env(redis_url, **extra)
        _say(f"Preparing a scratch database for {project_dir.name} ...")
        try:
            run_manage(project_dir, "migrate", "--verbosity", "0", env=env)
            if step.has("login"):
                create_accounts(project_dir, env, (DEMO,))
            if step.has("worker"):
                start_worker(stack, project_dir, env, redis_url)
            if step.has("tasks"):
                start_celery_worker(stack, project_dir, env, redis_url)
        except StepServerError as error:
            _say(str(error))
            return 1
        _say(f"Step {step.number}: {step.title}")
        _say(f"Open http://127.0.0.1:{port}/chat/ in your browser. Ctrl-C stops the server.")
        if step.has("login"):
            _say_demo_account()
        if step.has("notifications"):
            script = write_manage_script(project_dir, env)
            _say(
                "Push from another terminal (the step's notify and announce commands): "
                f'{sys.executable} {script} notify {DEMO.username} "tea is ready"'
            )
        try:
            return subprocess.call(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
                cwd=project_dir,
                env=env,
            )
        except KeyboardInterrupt:
            _say("Stopped.")
            return 0


def serve_production(step: Step, port: int = 8000) -> int:
    """The step behind nginx, as docs/production.md runs it, until Ctrl-C; an exit code."""
    from ..production import ProductionStack
    from ..production_nginx import INSTALL_HINT as NGINX_HINT
    from ..production_nginx import NginxUnavailable, find_nginx

    if find_nginx() is None:
        _say(f"--production puts nginx in front of the servers; nginx was not found. {NGINX_HINT}")
        return 2
    if not port_is_free(port):
        _say(
            f"Port {port} is already in use. Stop what uses it, or choose another port: "
            f"python -m workshop run --production --port {port + 1}"
        )
        return 2
    stack = ProductionStack(step, port=port, say=_say)
    try:
        with stack:
            _say(f"Step {step.number}: {step.title}, DEBUG off, behind nginx (docs/production.md)")
            ports = ", ".join(str(server.port) for server in stack.servers)
            _say(
                f"nginx on port {port} passes to Daphne on {ports}; one Redis at {stack.redis_url}."
            )
            if stack.accounts:
                _say_demo_account()
            _say(f"Open {stack.url}/chat/ in your browser. Ctrl-C stops everything.")
            exited = stack.wait()
            _say(f"{exited} exited by itself; stopping everything. Its log ends:")
            print(stack.log_text()[-3000:], flush=True)
            return 1
    except KeyboardInterrupt:
        _say("Stopped.")
        return 0
    except (StepServerError, NginxUnavailable, RedisUnavailable) as error:
        _say(str(error))
        return 1
