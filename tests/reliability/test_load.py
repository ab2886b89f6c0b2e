"""Load: idle sockets, and a burst across many rooms at once. Counted, never timed.

A crowded room (messages in rounds) is in tests/acceptance/test_groups.py, for every
step with rooms. The burst here sends everything at once, with no rounds: a layer
with a mailbox capacity (channels_redis' default layer: 100 messages per server
process) drops most of it, so it runs from the step whose layer has none.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.chat_client import burst_across_rooms, chat_message, join, next_frame, say

pytestmark = pytest.mark.slow


async def join_all(stack: contextlib.AsyncExitStack, server, rooms: list[str]) -> list:
    return [await stack.enter_async_context(join(server, room)) for room in rooms]


@pytest.mark.needs("reconnect")
def test_sockets_idle_for_60_seconds_stay_open_and_receive(server):
    # redis-py 8 cut idle sockets off after about 5 s (channels_redis#422); Daphne pings
    # every 20 s and gives up after 30 s without an answer. 60 s covers both.
    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            idle = await join_all(stack, server, ["idle-60"] * 3)
            await asyncio.sleep(60)
            talker = await stack.enter_async_context(join(server, "idle-60"))
            await say(talker, "still there after a minute?")
            for socket in [*idle, talker]:
                assert await next_frame(socket) == chat_message(
                    server, "still there after a minute?"
                )
            # And an idle socket can still talk.
            await say(idle[0], "yes")
            for socket in [*idle, talker]:
                assert await next_frame(socket) == chat_message(server, "yes")

    asyncio.run(scenario())


@pytest.mark.needs("burst")
def test_a_burst_across_20_rooms_loses_nothing_and_keeps_each_senders_order(start_server):
    # 200 clients in 20 rooms of 10 all press Enter 5 times at once: 1,000 messages, 10,000
    # deliveries, every one counted. A layer with a 100-message mailbox per process lost
    # nine in ten of them here.
    server = start_server(measure=False)  # a load test: coverage tracing would only slow it
    room_of, sent_by, received = asyncio.run(
        burst_across_rooms(server, rooms=20, per_room=10, messages_each=5)
    )
    lost = 0
    for client, log in enumerate(received):
        room_senders = {c: texts for c, texts in sent_by.items() if room_of[c] == room_of[client]}
        expected = {text for texts in room_senders.values() for text in texts}
        assert set(log) <= expected, f"client {client} heard another room: {set(log) - expected}"
        assert len(log) == len(set(log)), f"client {client} got a message twice"
        for sender, texts in room_senders.items():
            heard = [text for text in log if text.startswith(f"{sender}:")]
            assert heard == [text for text in texts if text in heard], (
                f"client {client}: the messages of {sender} arrived out of order"
            )
        lost += len(expected) - len(log)
    assert lost == 0, f"{lost} of {sum(map(len, received)) + lost} deliveries lost in the burst"
