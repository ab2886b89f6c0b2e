"""The hot path (the keeping-up step on): a room message never waits for the database.

Channels runs its database clean-up before every handler, in the one thread all the
server's database work shares; the keeping-up step hands room messages straight to
chat_message(), which needs no database. So while that thread is stuck (here: SQLite
locked by another process, and two senders' saves waiting on it for SQLite's 5-s busy
timeout each), a message sent to the room from outside still reaches its members at
once. Through a real Daphne and the step's own channel layer (a `manage.py shell`
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
        async with join(server, room) as alice, join(server, room) as bob:
            for socket in (alice, bob):
                await next_history(socket)
            with database_locked(server):
                await say(alice, "first save waits")
                await say(alice, "second save waits")
                await asyncio.sleep(0.5)  # both saves are now queued on the database thread
                sent = await asyncio.to_thread(
                    server.manage, "shell", "-c", SEND_FROM_OUTSIDE.format(room=room)
                )
                assert sent.returncode == 0, sent.stderr
                sent_at = time.monotonic()
                frame = await next_frame(bob, timeout=15)
                waited = time.monotonic() - sent_at
            assert frame["message"] == "while locked", frame
            assert waited < PROMPT_SECONDS, (
                f"the room message waited {waited:.1f} s for the database thread"
            )

    asyncio.run(scenario())
