"""Load: idle sockets, a crowded room, many rooms at once. Counted, never timed.

Messages are sent in rounds (tests/chat_client.py's chat_in_rounds): every round
stays below the mailbox capacity in Redis (channels_redis keeps at most 100 group
messages per server process). A client that blasts faster than the members read
overflows it, and group_send then drops messages by design (see
test_hostile_input.py's flood test and the README's "What this chat guarantees").
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.chat_client import (
    assert_all_delivered_in_order,
    chat_in_rounds,
    join,
    next_frame,
    nothing_arrives,
    say,
)

pytestmark = [pytest.mark.needs("reconnect"), pytest.mark.slow]


async def join_all(stack: contextlib.AsyncExitStack, server, rooms: list[str]) -> list:
    return [await stack.enter_async_context(join(server, room)) for room in rooms]


def test_200_clients_in_one_room_get_all_200_messages_in_order_per_sender(start_server):
    server = start_server(measure=False)  # a load test: coverage tracing would only slow it
    # 40 senders x 5 rounds = 200 messages, each to all 200 clients: 40,000 deliveries.
    sent_by, received = asyncio.run(
        chat_in_rounds(server, "crowd-200", clients=200, senders=40, rounds=5)
    )
    assert_all_delivered_in_order(sent_by, received)


def test_20_rooms_of_10_clients_at_once_and_no_message_crosses_rooms(start_server):
    server = start_server(measure=False)
    rooms, per_room, rounds = 20, 10, 20
    names = [f"room-{r}" for r in range(rooms) for _ in range(per_room)]
    members = {name: [i for i, n in enumerate(names) if n == name] for name in set(names)}

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            sockets = await join_all(stack, server, names)
            logs = [[] for _ in sockets]

            async def read_round(index):
                logs[index].append((await next_frame(sockets[index], timeout=60))["message"])

            # All rooms talk at once: each round, one member of every room speaks
            # (20 messages in flight, within the capacity of 100), every client reads.
            for n in range(rounds):
                speakers = [members[name][n % per_room] for name in members]
                await asyncio.gather(*(say(sockets[i], f"{names[i]}|{i}|{n}") for i in speakers))
                await asyncio.gather(*(read_round(i) for i in range(len(sockets))))
            for socket in sockets:
                assert await nothing_arrives(socket, seconds=0.05)
            return logs

    logs = asyncio.run(scenario())
    for index, (name, log) in enumerate(zip(names, logs, strict=True)):
        assert {text.split("|")[0] for text in log} == {name}, f"client {index} heard another room"
        expected = [f"{name}|{members[name][n % per_room]}|{n}" for n in range(rounds)]
        assert log == expected, f"client {index} in {name}: lost or reordered messages"
