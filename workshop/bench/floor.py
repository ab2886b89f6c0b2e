"""The floor: a chat room server in plain asyncio + websockets, no Django, no channel layer.

It speaks the steps' protocol (``/ws/chat/<room>/``, frames ``{"message": "..."}`` broadcast
to every member of the room, the sender included) and does nothing else: no consumer objects,
no channel layer, no thread hops. Whatever the Channels variants cost above this is the price
of what they add (Django's routing and middleware, a consumer per socket, a layer that also
works across processes).

Run on its own: python workshop/bench/floor.py --port 8765
Standard library + websockets only, so the benchmark can start it as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

ROOM_PATH = re.compile(r"^/ws/chat/([A-Za-z0-9][A-Za-z0-9_.\-]{0,93})/$")

rooms: dict[str, set[ServerConnection]] = defaultdict(set)


async def chat(connection: ServerConnection) -> None:
    match = ROOM_PATH.match(connection.request.path)
    if match is None:
        await connection.close(4404, "no such room")
        return
    members = rooms[match.group(1)]
    members.add(connection)
    try:
        async for frame in connection:
            message = json.loads(frame)["message"]
            # One encoding, written to every member's socket without waiting for any of them.
            broadcast(members, json.dumps({"message": message}))
    finally:
        members.discard(connection)


async def main(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    try:
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    except NotImplementedError:  # Windows: terminate() ends the process anyway
        pass
    # Compression off, as the benchmark's clients ask for none from every server.
    async with serve(chat, host, port, compression=None, ping_interval=None, max_size=None):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.host, arguments.port))
