"""The hot path: a room message reaches every member without waiting for the database.

ChatConsumer.dispatch() hands a room message straight to chat_message(), skipping
the trip Channels makes to the database thread before every other handler. That is
safe only while chat_message() never touches the database. These tests keep the
database thread busy (as a slow query would) and check that room messages still
arrive at once: a chat_message() that read the database, or a dispatch() without
the shortcut, waits for the thread and fails them.
"""

import asyncio
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import TransactionTestCase, override_settings

from .test_consumers import IN_MEMORY_LAYER, join, receive_message

# How long the database thread stays busy, and how long a message may take.
BUSY_SECONDS = 3
PROMPT_SECONDS = 1


async def keep_the_database_thread_busy():
    """Start a BUSY_SECONDS job in the one thread that all database work shares
    (sync_to_async is thread-sensitive by default: the same thread as the ORM's)."""
    busy = asyncio.ensure_future(sync_to_async(time.sleep)(BUSY_SECONDS))
    await asyncio.sleep(0.1)  # it has started
    return busy


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class HotPathTests(TransactionTestCase):
    async def test_a_room_message_does_not_wait_for_the_database_thread(self):
        members = [await join("lobby", name) for name in ("alice", "bob", "carol")]
        busy = await keep_the_database_thread_busy()
        # A message someone else's consumer saved and sent to the room.
        frame = {"id": 1, "user": "dave", "message": "hi", "created": "2026-12-07T20:00:00"}
        await get_channel_layer().group_send("chat_lobby", {"type": "chat.message", **frame})
        for member in members:
            received = await asyncio.wait_for(receive_message(member), PROMPT_SECONDS)
            self.assertEqual(received, {"user": "dave", "message": "hi"})
        self.assertFalse(busy.done(), "the database thread was not busy all along")
        await busy
        for member in members:
            await member.disconnect()

    async def test_other_events_still_go_through_channels(self):
        # The shortcut is for room messages only: an announcement still arrives,
        # after Channels' usual clean-up (so it waits for the busy thread).
        alice = await join("lobby")
        busy = await keep_the_database_thread_busy()
        await get_channel_layer().group_send(
            "chat_lobby", {"type": "chat.announcement", "text": "closing soon"}
        )
        announced = await alice.receive_json_from(timeout=BUSY_SECONDS + 2)
        self.assertEqual(announced, {"announcement": "closing soon"})
        self.assertTrue(busy.done(), "the announcement skipped Channels' database clean-up")
        await alice.disconnect()
