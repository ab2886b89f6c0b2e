"""What the server log shows under `python manage.py runserver`, the way students start it.

Without a LOGGING setting, runserver shows Django's own lines only: a message the
channel layer drops (channels_redis logs it at INFO) never reaches the terminal.
Each test starts its own runserver, on a private Redis it may stop.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.chat_client import join, say
from tests.conftest import Runserver
from tests.reliability.test_faults import LAYER_UNAVAILABLE, close_code
from workshop.processes import wait_until
from workshop.step_server import copy_project, project_env

pytestmark = [pytest.mark.needs("reconnect"), pytest.mark.slow]


@pytest.fixture
def start_runserver(step, tmp_path, private_redis):
    """Start `manage.py runserver` on a copy of the step; change_settings edits the copy first."""
    started = []

    def start(change_settings=None) -> Runserver:
        copy = copy_project(step.source, tmp_path)
        if change_settings:
            settings = copy / "chatsite" / "settings.py"
            settings.write_text(change_settings(settings.read_text()))
        server = Runserver(copy, project_env(private_redis.url)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_redis_unreachable_is_one_line_under_runserver(start_runserver, private_redis):
    server = start_runserver()

    async def scenario():
        async with join(server, "logged") as socket:
            private_redis.stop()
            assert await close_code(socket) == LAYER_UNAVAILABLE

    asyncio.run(scenario())
    pattern = r"WARNING chat\.consumers: Room logged: channel layer unreachable"
    assert wait_until(lambda: re.search(pattern, server.log_text()), 5, interval=0.2), (
        server.log_text()[-3000:]
    )


def test_a_dropped_message_is_a_line_under_runserver(start_runserver):
    # The default layer with a mailbox of one message: a burst must overflow it,
    # and channels_redis says so at INFO, which only the step's LOGGING shows here.
    server = start_runserver(
        lambda settings: re.sub(
            r'"BACKEND": "channels_redis\.pubsub\.RedisPubSubChannelLayer",\n(\s*)"CONFIG": \{',
            r'"BACKEND": "channels_redis.core.RedisChannelLayer",\n\1"CONFIG": {"capacity": 1, ',
            settings,
        )
    )

    async def scenario():
        async with join(server, "dropped") as sender, join(server, "dropped"):
            await asyncio.gather(*(say(sender, f"burst {n}") for n in range(50)))

    asyncio.run(scenario())
    pattern = r"INFO channels_redis\.core: \d+ of \d+ channels over capacity in group chat_dropped"
    assert wait_until(lambda: re.search(pattern, server.log_text()), 10, interval=0.2), (
        server.log_text()[-3000:]
    )
