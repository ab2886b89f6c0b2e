"""A WebSocket client that talks to a step the way the room page does."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from workshop.step_server import StepServer

RECEIVE_TIMEOUT = 10.0


def join(server: StepServer, room: str, origin: str | None = "same"):
    """Open a socket to a room (use with `async with`). origin="same" sends the page's origin."""
    if origin == "same":
        origin = server.url
    return connect(
        server.ws_url(f"/ws/chat/{room}/"), origin=origin, open_timeout=10, max_size=None
    )


async def say(socket, text: str) -> None:
    await socket.send(json.dumps({"message": text}))


async def next_frame(socket, timeout: float = RECEIVE_TIMEOUT) -> dict:
    """The next JSON frame from the server; fails the test if none comes in time."""
    try:
        return json.loads(await asyncio.wait_for(socket.recv(), timeout))
    except TimeoutError:
        raise AssertionError(f"no frame arrived within {timeout} s") from None


async def nothing_arrives(socket, seconds: float = 0.5) -> bool:
    """True if the server sends nothing on this socket for `seconds`."""
    try:
        frame = await asyncio.wait_for(socket.recv(), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"expected silence, received {frame!r}")
