"""The hot path (the keeping-up step on): a room message never waits for the database.

Channels runs its database clean-up before every handler, in the one thread all the
server's database work shares; the keeping-up step hands room messages straight to
chat_message(), which needs no database. So while that thread is stuck (here: SQLite
locked by another process, and three senders' saves waiting on it for SQLite's 5-s busy
timeout each), a message sent to the room from outside still reaches its members at
once: nothing else the consumer does (step 13's layer check) may make it wait for that
thread either. Through a real Daphne and the step's own channel layer (a `manage.py shell`
sends it, as chat/push.py's commands do).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.chat_client import join, next_frame, next_history, say
from tests.server_state import database_locked

pytestmark = pytest.mark.needs("hot-path")

# A message sent while the database thread is busy arrives within this; without the
# shortcut it waits for the senders' saves (5 s each, SQLite's busy timeout).
PROMPT_SECONDS = 2.0

SEND_FROM_OUTSIDE = """
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
frame = {{"id": 0, "user": "outside", "message": "while locked", "created": "2026-12-07T20:00:00"}}
async_to_sync(get_channel_layer().group_send)("chat_{room}", {{"type": "chat.message", **frame}})
"""


def test_a_room_message_reaches_members_while_the_database_thread_is_stuck(server):
    room = f"hot-{uuid.uuid4().hex[:6]}"

    async def scenario():
        async with (
            join(server, room) as bob,
            join(server, room) as alice,
            join(server, room) as carol,
            join(server, room) as dave,
        ):
            senders = (alice, carol, dave)
            for socket in (bob, *senders):
                await next_history(socket)
            with database_locked(server):
                # Three saves, one from each sender, queue on the database thread: each
                # waits out SQLite's 5-s busy timeout, so the thread is stuck for 15 s.
                for sender in senders:
                    await say(sender, "my save waits")
                # Longer than anything a consumer does every few seconds (step 13's layer
                # check: every 2 s), so that it comes by while the thread is stuck.
                await asyncio.sleep(2.5)
                sent = await asyncio.to_thread(
                    server.manage, "shell", "-c", SEND_FROM_OUTSIDE.format(room=room)
                )
                assert sent.returncode == 0, sent.stderr
                sent_at = time.monotonic()
                frame = await next_frame(bob, timeout=30)
                waited = time.monotonic() - sent_at
            assert frame["message"] == "while locked", frame
            assert waited < PROMPT_SECONDS, (
                f"the room message waited {waited:.1f} s for the database thread"
            )

    asyncio.run(scenario())
