"""History (step 08 on): messages are saved, and a socket gets its room's last ones first.

The frames are read raw (next_history, raw=True): these tests check the ids and times
that the other tests leave out. The join test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.chat_client import join, next_frame, next_history, nothing_arrives, say
from tests.pages import (
    chat_log,
    chat_log_lines_without_times,
    open_room,
    post_message,
    text_of,
    wait_for,
)
from tests.stored_messages import serve_on_postgres, stored_messages
from workshop.accounts import ALICE, BOB, session_for

pytestmark = pytest.mark.needs("history")

HISTORY_LENGTH = 50


def new_room() -> str:
    """A room no other test has used: its history starts empty."""
    return f"history-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_server(request, step, tmp_path):
    """The step served on its default database (SQLite), then on a real PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("server")
        return
    postgres = request.getfixturevalue("postgres_server")
    redis_url = request.getfixturevalue("redis_url")
    server = serve_on_postgres(step.source, postgres, redis_url, tmp_path)
    yield server
    server.stop()


async def converse(server, room: str, lines: list[tuple]) -> list[dict]:
    """Each (account, text) is said in turn in room; returns the frames as the sender got them."""
    frames = []
    for account, text in lines:
        async with join(server, room, session=session_for(server, account)) as socket:
            await next_history(socket)
            await say(socket, text)
            frames.append(await next_frame(socket, raw=True))
    return frames


def test_a_later_joiner_gets_the_last_lines_in_order_once(any_database_server):
    server, room = any_database_server, new_room()
    said = [(ALICE, "hello bob"), (BOB, "hello alice"), (ALICE, "how are you?")]

    async def scenario():
        live = await converse(server, room, said)
        async with join(server, room) as later:  # the first account: neither alice nor bob
            history = await next_history(later)
            assert await nothing_arrives(later, raw=True), "a history line came twice"
        async with join(server, room) as reloaded:
            assert await next_history(reloaded) == history
        return live, history

    live, history = asyncio.run(scenario())
    assert [(f["user"], f["message"]) for f in history] == [(a.username, t) for a, t in said]
    # The same messages, with the ids and times they had live.
    assert history == live
    ids = [frame["id"] for frame in history]
    assert ids == sorted(set(ids)), f"ids not unique and increasing: {ids}"
    assert all(frame["created"] for frame in history)
    stored = stored_messages(server, room)
    assert stored == [(f["id"], f["user"], f["message"]) for f in history], "stored once each"


def test_another_rooms_history_never_leaks(server):
    room, other = new_room(), new_room()

    async def scenario():
        await converse(server, room, [(ALICE, "for this room only")])
        async with join(server, other) as elsewhere:
            return await next_history(elsewhere)

    assert asyncio.run(scenario()) == []


def test_the_history_is_the_last_50_oldest_first(server):
    room = new_room()
    texts = [f"line {n}" for n in range(HISTORY_LENGTH + 5)]

    async def scenario():
        async with join(server, room) as talker:
            await next_history(talker)
            for text in texts:
                await say(talker, text)
                await next_frame(talker)
        async with join(server, room) as later:
            return await next_history(later)

    history = asyncio.run(scenario())
    assert [frame["message"] for frame in history] == texts[-HISTORY_LENGTH:]


def test_a_reload_shows_the_log_each_line_once(server, browser):
    room = new_room()
    open_room(browser, server, room)
    post_message(browser, "first")
    post_message(browser, "second")
    me = server.accounts[0].username
    wait_for(browser, lambda: f"{me}: second" in chat_log(browser), "the page never showed it")

    browser.refresh()
    wait_for(browser, lambda: text_of(browser, "connection-status").startswith("Connected"), "")
    wait_for(browser, lambda: f"{me}: second" in chat_log(browser), "no history after a reload")
    assert chat_log_lines_without_times(browser) == [f"{me}: first", f"{me}: second"]
