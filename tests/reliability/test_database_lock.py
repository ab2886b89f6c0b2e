"""A locked database (step 08 on): a message that cannot be saved is answered, not a crash.

Another process holds SQLite's write lock (`BEGIN EXCLUSIVE`, as a long migration or a
backup would) for longer than SQLite's 5-s busy timeout. What each member gets
(docs/guarantees.md):

- a sender: {"error": "Not saved: ..."} on its own socket after about 5 s; the socket stays
  open and nothing is broadcast (a message is delivered only once it is stored);
- every other member, in this room and others: nothing lost, nothing closed; the chat is
  slow while it waits (all the sockets' database work waits on one thread), and carries
  on when the lock is gone;
- a page joining during the lock: served once the lock is gone, or closed with 4503 (or
  refused while its session cannot be read) and the page tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.chat_client import (
    HandshakeServerError,
    chat_message,
    close_code,
    join,
    next_frame,
    next_history,
    nothing_arrives,
    say,
)
from tests.server_state import database_locked

# Every step with history (the file changes on each): each step's copy of the branches runs.
pytestmark = [pytest.mark.needs("history"), pytest.mark.subject("chat/consumers.py")]

# Longer than SQLite's busy timeout (5 s, Django's default), so that a write meets it.
LOCK_SECONDS = 7.0
NOT_SAVED = "Not saved"  # how the consumer's error frame starts
UNAVAILABLE = 4503


async def join_during_the_lock(server, room: str) -> str:
    """What a page joining now gets: "served", or how it was turned away."""
    try:
        async with join(server, room) as socket:
            await next_history(socket, timeout=LOCK_SECONDS + 10)
            return "served"
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == UNAVAILABLE, closed
        return "closed with 4503"
    except (InvalidHandshake, HandshakeServerError) as refused:
        # Its session could not be read in time: Daphne gives a handshake 5 s, then drops
        # it (the page sees 1006), or the read failed (500). Either way the page retries.
        return f"refused: {refused!r}"


def test_a_message_the_locked_database_cannot_take_is_answered_and_the_chat_goes_on(server):
    room, other_room = f"locked-{uuid.uuid4().hex[:6]}", f"unlocked-{uuid.uuid4().hex[:6]}"

    async def scenario():
        async with (
            join(server, room) as alice,
            join(server, room) as bob,
            join(server, other_room) as carol,
            join(server, other_room) as dave,
        ):
            for socket in (alice, bob, carol, dave):
                await next_history(socket)
            with database_locked(server):
                await say(alice, "during the lock")
                joiner = asyncio.create_task(join_during_the_lock(server, room))
                reply = await next_frame(alice, timeout=LOCK_SECONDS + 5)
                assert set(reply) == {"error"} and reply["error"].startswith(NOT_SAVED), reply
                await asyncio.sleep(max(0.0, LOCK_SECONDS - 5.5))
            # The lock is gone: every socket is still open, and the chat carries on.
            await say(alice, "after the lock")
            assert await next_frame(bob, timeout=15) == chat_message(server, "after the lock")
            await say(carol, "elsewhere")
            assert await next_frame(dave) == chat_message(server, "elsewhere")
            assert await nothing_arrives(bob, 0.3)
            print("a page joining during the lock:", await joiner)
        async with join(server, room) as later:
            texts = [message["message"] for message in await next_history(later)]
        assert texts == ["after the lock"], texts  # stored once; the refused one never

    asyncio.run(scenario())


@contextlib.contextmanager
def messages_table_gone(server):
    """The messages' table renamed away, as a half-applied migration leaves a database:
    reading or saving messages fails ("no such table"), while sessions still work."""
    database = sqlite3.connect(server.project_dir / "db.sqlite3", timeout=10)
    try:
        database.execute("ALTER TABLE chat_message RENAME TO chat_message_away")
        database.commit()
        yield
    finally:
        database.execute("ALTER TABLE chat_message_away RENAME TO chat_message")
        database.commit()
        database.close()


def test_a_page_whose_history_cannot_be_read_is_closed_with_4503_and_joins_later(server):
    room = f"tableless-{uuid.uuid4().hex[:6]}"

    async def scenario():
        async with join(server, room) as member:
            await next_history(member)
            with messages_table_gone(server):
                async with join(server, room) as joiner:
                    assert await close_code(joiner) == UNAVAILABLE  # the page tries again
                await say(member, "into the void")
                reply = await next_frame(member)
                assert reply["error"].startswith(NOT_SAVED), reply
            async with join(server, room) as joiner:  # the table is back
                assert await next_history(joiner) == []
                await say(member, "back")
                assert await next_frame(joiner) == chat_message(server, "back")

    asyncio.run(scenario())
    assert "history not read (no such table: chat_message)" in server.log_text()
