"""History under load and faults (step 08 on): nothing lost, nothing stored or shown twice.

The load test runs on a real PostgreSQL (test_groups.py's crowded room checks the same on
SQLite); counted, never timed.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.chat_client import CROWD_ROUNDS, assert_all_delivered_in_order, chat_in_rounds
from tests.pages import (
    chat_log,
    chat_log_lines_without_times,
    open_room,
    post_message,
    text_of,
    wait_for,
)
from tests.stored_messages import assert_stored_once, serve_on_postgres
from tests.subjects import ROOM_CHAT
from workshop.processes import wait_until
from workshop.step_server import run_manage

pytestmark = [pytest.mark.needs("history"), pytest.mark.slow, pytest.mark.subject(*ROOM_CHAT)]

# The page waits at most 8 s between attempts, plus the time an attempt takes.
RECONNECT_SECONDS = 20


def test_on_postgresql_200_clients_get_every_message_and_each_is_stored_once(
    step, postgres_server, redis_url, tmp_path
):
    # test_groups.py's crowded room, which checks the same on SQLite, served on PostgreSQL:
    # 40 senders at once, in CROWD_ROUNDS rounds, to 200 clients.
    server = serve_on_postgres(step.source, postgres_server, redis_url, tmp_path)
    try:
        room = "crowd-stored"
        sent_by, received = asyncio.run(
            chat_in_rounds(server, room, clients=200, senders=40, rounds=CROWD_ROUNDS)
        )
    finally:
        server.stop()
    assert_all_delivered_in_order(sent_by, received)
    assert_stored_once(server, room, sent_by)


# Saved straight into the database, as if said while the page was away.
_SAY_WHILE_AWAY = """
from django.contrib.auth import get_user_model
from chat.models import Message
user = get_user_model().objects.get(username="alice")
Message.objects.create(room="phoenix-history", user=user, text="said while you were away")
"""


def test_after_a_redis_restart_the_page_shows_each_line_once_and_what_it_missed(
    private_redis, start_server, browser
):
    server = start_server(redis_url=private_redis.url)
    me = server.accounts[0].username

    def status() -> str:
        return text_of(browser, "connection-status")

    open_room(browser, server, "phoenix-history")
    post_message(browser, "before the restart")
    wait_for(browser, lambda: "before the restart" in chat_log(browser), "not shown")

    private_redis.stop()
    assert wait_until(lambda: status().startswith("Disconnected"), RECONNECT_SECONDS, 0.2)
    run_manage(server.project_dir, "shell", "-c", _SAY_WHILE_AWAY, env=server.env)
    private_redis.start()
    assert wait_until(lambda: status().startswith("Connected"), RECONNECT_SECONDS, 0.2), status()
    wait_for(browser, lambda: "while you were away" in chat_log(browser), "the gap stayed empty")

    post_message(browser, "after the restart")
    wait_for(browser, lambda: "after the restart" in chat_log(browser), "not shown after")
    assert chat_log_lines_without_times(browser) == [
        f"{me}: before the restart",
        "alice: said while you were away",
        f"{me}: after the restart",
    ]
