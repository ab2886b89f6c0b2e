"""From step 09: a socket per logged-in user, and news pushed to it from outside.

Every page of a logged-in user opens ws/notifications/ and joins its user's group;
`manage.py notify USER TEXT` and `manage.py announce ROOM TEXT` run as real processes
against the same Redis as the server. Mentions, through a worker: test_mentions.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.chat_client import (
    close_code,
    join,
    next_frame,
    nothing_arrives,
    notifications_of,
    open_socket,
)
from tests.pages import log_in_as, text_of
from tests.server_state import members_in_redis, new_account
from tests.subjects import NOTIFICATIONS
from workshop.accounts import ALICE, BOB
from workshop.ports import free_port
from workshop.processes import wait_until
from workshop.step_server import project_env

pytestmark = pytest.mark.needs("notifications")

NOT_LOGGED_IN = 4401  # the close code of step 07 (chat/consumers.py)
# How long a command's message may take to reach a page once the command returned.
DELIVERY_SECONDS = 1.0


def new_room() -> str:
    return f"notify-{uuid.uuid4().hex[:8]}"


def test_an_anonymous_notification_socket_is_closed_with_4401(server):
    async def scenario():
        async with open_socket(server, "/ws/notifications/", session=None) as anonymous:
            assert await close_code(anonymous) == NOT_LOGGED_IN

    asyncio.run(scenario())


def test_notify_reaches_the_users_open_page_within_a_second(server):
    async def scenario():
        async with notifications_of(server, BOB) as bob, notifications_of(server, ALICE) as alice:
            text = f"from the shell {uuid.uuid4().hex[:6]}"
            result = await asyncio.to_thread(server.manage, "notify", BOB.username, text)
            assert result.returncode == 0, result.stderr
            # The command has returned: the message is in Redis, on its way.
            assert await next_frame(bob, timeout=DELIVERY_SECONDS) == {"notification": text}
            assert await nothing_arrives(alice, DELIVERY_SECONDS, raw=True)

    asyncio.run(scenario())


def test_announce_reaches_everyone_in_the_room_and_no_other(server):
    room = new_room()

    async def scenario():
        async with join(server, room) as member, join(server, new_room()) as elsewhere:
            for socket in (member, elsewhere):
                await next_frame(socket, raw=True)  # the (empty) history
            result = await asyncio.to_thread(server.manage, "announce", room, "closing soon")
            assert result.returncode == 0, result.stderr
            frame = await next_frame(member, timeout=DELIVERY_SECONDS)
            assert frame == {"announcement": "closing soon"}
            assert await nothing_arrives(elsewhere, DELIVERY_SECONDS, raw=True)

    asyncio.run(scenario())


def test_the_commands_refuse_what_cannot_work(server):
    unknown = server.manage("notify", "nobody-by-this-name", "hello")
    assert unknown.returncode != 0 and "nobody-by-this-name" in unknown.stderr, unknown.stderr
    bad_room = server.manage("announce", "not a room!", "hello")
    assert bad_room.returncode != 0, bad_room.stderr
    assert "room name" in bad_room.stderr and "letters" in bad_room.stderr, bad_room.stderr
    # Redis down: nothing listens on this port. The command says so, and fails.
    down = project_env(f"redis://127.0.0.1:{free_port()}/0")
    result = server.manage("notify", BOB.username, "hello", env=down)
    assert result.returncode != 0
    assert "connect" in result.stderr.lower(), result.stderr


def test_the_in_memory_layer_is_refused(server, tmp_path):
    # Settings that swap the layer for the in-memory one: a command in its own
    # process could never reach the server's sockets with it.
    (tmp_path / "in_memory_settings.py").write_text(
        "from chatsite.settings import *  # noqa\n"
        "CHANNEL_LAYERS = {'default': {'BACKEND': 'channels.layers.InMemoryChannelLayer'}}\n"
    )
    env = dict(server.env, DJANGO_SETTINGS_MODULE="in_memory_settings", PYTHONPATH=str(tmp_path))
    result = server.manage("notify", BOB.username, "hello", env=env)
    assert result.returncode != 0
    assert "another process" in result.stderr, result.stderr


@pytest.mark.subject(*NOTIFICATIONS)  # where the notifications changed; the rest run everywhere
def test_notify_shows_on_the_users_open_page_within_a_second(server, any_users_browser):
    browser = any_users_browser
    # A fresh account: no page of it is open anywhere else, so its group is empty until
    # this page's notification socket joins it.
    account, group = new_account(server)
    log_in_as(browser, server, account, "/chat/")
    assert wait_until(lambda: members_in_redis(server, group) == 1, 10, interval=0.1), (
        "the page's notification socket never joined its group"
    )
    result = server.manage("notify", account.username, "tea is ready")
    assert result.returncode == 0, result.stderr
    # The command has returned: its message is in Redis, on its way to the page.
    shown = wait_until(
        lambda: "tea is ready" in text_of(browser, "notification-list"),
        DELIVERY_SECONDS,
        interval=0.05,
    )
    assert shown, f"not on the page {DELIVERY_SECONDS} s after the command returned"
    assert text_of(browser, "notification-count") == "1"


@pytest.mark.subject(*NOTIFICATIONS)  # where the notifications changed; the rest run everywhere
def test_notifications_carry_json_text(server):
    # The frame is JSON with the text as a string, whatever the text holds.
    async def scenario():
        async with notifications_of(server, BOB) as bob:
            text = 'quote " and <script>'
            result = await asyncio.to_thread(server.manage, "notify", BOB.username, text)
            assert result.returncode == 0, result.stderr
            raw = await asyncio.wait_for(bob.recv(), DELIVERY_SECONDS)
            assert json.loads(raw) == {"notification": text}

    asyncio.run(scenario())
