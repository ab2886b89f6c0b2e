"""tests/chat_client.py's own checks, against a small real WebSocket server in this process."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from tests.chat_client import nothing_more_arrives


async def _with_sockets(count: int, extra_for: int | None, check):
    """`count` sockets to a server that sends one frame, a while later, to socket
    number `extra_for` (None: to nobody); returns what check(sockets) returns."""
    connected = []

    async def handler(connection):
        connected.append(connection)
        if len(connected) - 1 == extra_for:
            await asyncio.sleep(0.3)
            await connection.send(json.dumps({"message": "extra"}))
        await connection.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sockets = [await connect(f"ws://127.0.0.1:{port}/") for _ in range(count)]
        try:
            return await check(sockets)
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))


def test_nothing_more_arrives_watches_every_socket_at_once():
    started = time.monotonic()
    quiet = asyncio.run(_with_sockets(50, None, lambda s: nothing_more_arrives(s, 0.5)))
    assert quiet and time.monotonic() - started < 10  # 50 x 0.5 s in a row would be 25 s


def test_nothing_more_arrives_sees_a_frame_on_any_one_socket():
    for extra_for in (0, 49):
        quiet = asyncio.run(_with_sockets(50, extra_for, lambda s: nothing_more_arrives(s, 1.0)))
        assert not quiet, f"the frame to socket {extra_for} went unseen"
