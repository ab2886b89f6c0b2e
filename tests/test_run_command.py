"""`python -m workshop run`: the README's run command, with and without Redis."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import types
import urllib.request

import pytest

from tests.chat_client import chat_message, join, next_frame, open_socket, say
from tests.workshop_command import bootstrap_python, closed_redis_url
from workshop.accounts import BOB, DEMO, session_for
from workshop.manifest import REPO_ROOT, get_step, load_steps
from workshop.ports import free_port
from workshop.processes import wait_until
from workshop.redis_server import with_database
from workshop.temp_leftovers import temp_dir_env

LAST_STEP = load_steps()[-1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def run_command(tmp_path, private_temp_dir):
    """Start `python -m workshop run ARGS` on a free port; returns (server, log reader)."""
    started = []

    def start(*args: str, python: str = sys.executable, **env_overrides: str):
        step = get_step(args[0]) if args else LAST_STEP
        port = free_port()
        env = dict(os.environ, WORKSHOP_NO_VENV="1", PYTHONUNBUFFERED="1", **env_overrides)
        env.update(temp_dir_env(private_temp_dir))  # a run stopped by a signal keeps its scratch
        if python != sys.executable:
            del env["WORKSHOP_NO_VENV"]  # a Python outside .venv: the bootstrap re-runs in it
        log_path = tmp_path / f"run-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [python, "-m", "workshop", "run", *args, "--port", str(port)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # runserver's autoreloader forks: stop the whole group
            )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        server = types.SimpleNamespace(
            url=url,
            ws_url=lambda path: f"ws://127.0.0.1:{port}{path}",
            process=process,
            # A step with users: the tests log in with the demo account the banner names.
            accounts=(DEMO,) if step.has("login") else (),
            sessions={},
        )
        if not wait_until(lambda: answers(url + "/chat/"), 60, interval=0.3, process=process):
            pytest.fail(f"`workshop run` never served {url}:\n{log_path.read_text()}")
        return server, log_path.read_text

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def room_members_talk(server) -> dict:
    async def scenario():
        async with join(server, "lobby") as alice, join(server, "lobby") as bob:
            await say(alice, "hello through workshop run")
            return await next_frame(bob)

    return asyncio.run(scenario())


def test_without_any_redis_it_serves_on_the_in_memory_layer_and_says_so(run_command):
    server, log = run_command(REDIS_URL=closed_redis_url(), REDIS_SERVER="/nonexistent")
    assert room_members_talk(server) == chat_message(server, "hello through workshop run")
    assert "NO REDIS" in log() and "in-memory" in log()
    if server.accounts:  # a step with users: its sockets logged in as the banner's account
        assert f"Log in as {DEMO.username!r} with the password {DEMO.password!r}" in log()
        assert server.sessions


@pytest.mark.redis
def test_without_a_reachable_redis_it_starts_its_own(run_command, redis_server):
    server, log = run_command(REDIS_URL=closed_redis_url())
    assert room_members_talk(server) == chat_message(server, "hello through workshop run")
    assert "Started a private redis-server" in log()


@pytest.mark.redis
def test_it_uses_the_redis_at_redis_url(run_command, redis_url):
    server, log = run_command(REDIS_URL=redis_url)
    assert room_members_talk(server) == chat_message(server, "hello through workshop run")
    assert f"Using the Redis at {redis_url}" in log()


def test_it_serves_any_step_and_leaves_the_step_folder_clean(run_command):
    server, log = run_command("1")
    with urllib.request.urlopen(server.url + "/chat/", timeout=10) as response:
        assert b"room-name-input" in response.read()
    assert "Step 1:" in log()
    assert not (load_steps()[0].path / "db.sqlite3").exists()
    assert not (LAST_STEP.path / "db.sqlite3").exists()


@pytest.mark.parametrize(
    "step", ["1", LAST_STEP.folder], ids=["without-redis", "with-its-own-redis-server"]
)
def test_ctrl_c_stops_it_with_one_line_and_no_traceback(run_command, step):
    """Ctrl-C reaches every process of the terminal's group: the bootstrap, the command it
    re-runs inside .venv, runserver and its autoreloader, a redis-server it started."""
    python = bootstrap_python() or sys.executable
    server, log = run_command(step, python=python, REDIS_URL=closed_redis_url())
    os.killpg(server.process.pid, signal.SIGINT)
    code = server.process.wait(timeout=30)
    output = log()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert code in (0, 130), output
    assert output.rstrip().splitlines()[-1].startswith("[workshop] Stopped"), output


# Someone to mention, created with the banner's manage.py in this run's scratch database.
_CREATE_BOB = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(%r, password=%r)
"""


@pytest.mark.redis
@pytest.mark.skipif(not LAST_STEP.has("worker"), reason="the last step has no worker")
def test_the_last_step_runs_with_its_worker_and_commands_reach_its_pages(run_command, redis_url):
    # A Redis database of its own: no other test's worker may take its jobs.
    server, log = run_command(REDIS_URL=with_database(redis_url, 2))
    assert "Started `manage.py runworker mentions`" in log()

    # The banner's line for another terminal: its notify reaches the demo account's page.
    pushed = re.search(r"Push from another terminal .*?: (\S+) (\S+) notify ", log())
    assert pushed, log()
    python, script = pushed.groups()

    def manage(*args: str) -> None:
        result = subprocess.run([python, script, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    async def notified():
        async with open_socket(server, "/ws/notifications/") as page:  # logged in as the demo
            await asyncio.to_thread(manage, "notify", DEMO.username, "tea is ready")
            assert await next_frame(page, timeout=1) == {"notification": "tea is ready"}

    asyncio.run(notified())

    # The worker the run started delivers a mention: the demo account mentions bob.
    manage("shell", "-c", _CREATE_BOB % (BOB.username, BOB.password))

    async def mentioned():
        async with (
            open_socket(server, "/ws/notifications/", session=session_for(server, BOB)) as bob,
            join(server, "lobby") as demo,
        ):
            await next_frame(demo, raw=True)  # the room's history
            await say(demo, f"hello @{BOB.username}")
            notification = await next_frame(bob, timeout=10)
            assert notification["notification"].startswith(f"{DEMO.username} mentioned you")

    asyncio.run(mentioned())


@pytest.mark.redis
@pytest.mark.skipif(not LAST_STEP.has("tasks"), reason="the last step has no Celery worker")
def test_the_last_step_runs_with_its_celery_worker(run_command, redis_url):
    # A Redis database of its own: no other test's worker may take its jobs.
    server, log = run_command(REDIS_URL=with_database(redis_url, 2))
    assert "Started `celery -A chatsite worker`" in log()
    access_log = re.search(r"echo hello >> (\S+access\.log)", log()).group(1)

    # The logs page's job runs (a worker took it), and a line written to the file the
    # banner names reaches the page.
    async def scenario():
        async with open_socket(server, "/ws/logs/access/") as page:
            running = json.loads(await asyncio.wait_for(page.recv(), 15))
            assert running == {"state": "running"}, running
            with open(access_log, "a") as file:
                file.write("hello from the test\n")
            line = json.loads(await asyncio.wait_for(page.recv(), 5))
            assert line == {"line": "hello from the test"}, line

    asyncio.run(scenario())
