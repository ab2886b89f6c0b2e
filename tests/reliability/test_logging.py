"""What the server log shows under `python manage.py runserver`, the way students start it.

Without a LOGGING setting, runserver shows Django's own lines only: a message the
channel layer drops (channels_redis logs it at INFO) never reaches the terminal.
Each test starts its own runserver, on a private Redis it may stop.
"""

from __future__ import annotations

import asyncio
import re
import signal

import pytest

from tests.chat_client import close_code, join, next_frame, say
from tests.conftest import Runserver, ServerPool, prepared_copy
from tests.reliability.test_faults import LAYER_UNAVAILABLE, SHOW_CAPACITY
from workshop.processes import wait_until
from workshop.step_server import MACHINE_SENDER_LIMITS, project_env

pytestmark = [pytest.mark.needs("reconnect"), pytest.mark.slow]


@pytest.fixture
def start_runserver(step, tmp_path, private_redis, step_python, prepared_copies):
    """Start `manage.py runserver` on a copy of the step. Passing the copy of an earlier
    call starts a second server on the same project."""
    started = []

    def start(copy=None) -> Runserver:
        env = project_env(private_redis.url, **MACHINE_SENDER_LIMITS)  # a flood, as one user
        if copy is None:
            copy = prepared_copy(prepared_copies, step, tmp_path, env, step_python)
        accounts = ServerPool.accounts(step)
        server = Runserver(copy, env, step_python, accounts=accounts).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.running:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


def test_redis_unreachable_is_one_line_under_runserver(start_runserver, private_redis):
    server = start_runserver()

    async def scenario():
        async with join(server, "logged") as socket:
            private_redis.stop()
            assert await close_code(socket) == LAYER_UNAVAILABLE

    asyncio.run(scenario())
    pattern = r"WARNING chat\.consumers: Socket /ws/chat/logged/: channel layer unreachable"
    assert wait_until(lambda: re.search(pattern, server.log_text()), 5, interval=0.2), (
        server.log_text()[-3000:]
    )


# What decides this line: the step's LOGGING, its channel layer, and the packages that
# serve and log. The consumer only passes messages on, as other tests check on every
# step; so this runs where one of these changed (tests/subjects.py), not on every step.
@pytest.mark.needs("mailbox")  # a message dropped past the mailbox's capacity
@pytest.mark.subject(
    "chatsite/settings.py::LOGGING",
    "chatsite/settings.py::CHANNEL_LAYERS",
    "requirements.txt::channels-redis",
    "requirements.txt::daphne",
    "requirements.txt::django",
)
def test_a_dropped_message_is_a_line_under_runserver(start_runserver):
    # Each server process has one mailbox in Redis, which holds the step's `capacity` of
    # messages. A second server with a member in the room is frozen (SIGSTOP), so its
    # mailbox fills up and stays full: past the capacity, group_send drops the message for
    # it, and channels_redis says so at INFO, which only the step's LOGGING shows under
    # runserver.
    server = start_runserver()
    capacity = int(server.manage("shell", "--verbosity", "0", "-c", SHOW_CAPACITY).stdout)
    frozen = start_runserver(copy=server.project_dir)

    async def scenario():
        async with join(server, "dropped") as sender, join(frozen, "dropped") as member:
            # Frozen once idle, not in the middle of its connect(): the history it reads
            # there would hold SQLite's lock, and the other server could save nothing.
            await say(sender, "everyone here?")
            await next_frame(member)
            await next_frame(sender)
            frozen.process.send_signal(signal.SIGSTOP)
            # In windows the sender reads back: its own server's mailbox never holds more
            # than a window, so only the frozen one overflows.
            for window in range(0, capacity + 10, WINDOW):
                for n in range(window, window + WINDOW):
                    await say(sender, f"message {n}")
                for _ in range(WINDOW):
                    await next_frame(sender)
            member.close_timeout = 0.1  # a frozen server answers no close: not 10 s for it

    asyncio.run(scenario())
    pattern = r"INFO channels_redis\.core: 1 of 2 channels over capacity in group chat_dropped"
    assert wait_until(lambda: re.search(pattern, server.log_text()), 10, interval=0.2), (
        server.log_text()[-3000:]
    )


WINDOW = 100
