"""Sockets left idle while a step's other tests run, and checked after them.

An idle socket must still receive after a minute of silence: redis-py 8 cut such
sockets off after about 5 s, and Daphne pings every 20 s and gives up after 30 s
without an answer. Waiting that minute in a row, step after step, would cost
minutes; so the sockets are opened when a step's first test starts
(tests/conftest.py), and the test that checks them runs after the step's other tests.

They talk to a Daphne process of their own: other tests' messages on the same process
would wake the channel layer's blocking read and hide a read timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time

from tests.chat_client import chat_message, join, next_frame, say
from workshop.step_server import StepServer

IDLE_SECONDS = 60  # two of Daphne's 20 s pings, and its 30 s pong timeout


class IdleSockets:
    """`count` sockets in one room, kept open by an event loop in a thread of their own."""

    def __init__(self, server: StepServer, room: str = "idle", count: int = 3):
        self.server = server
        self.room = room
        self._loop = asyncio.new_event_loop()
        # The loop keeps running while the tests do: it answers Daphne's pings.
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.sockets = self._run(self._open(count))
        self.opened_at = time.monotonic()

    def _run(self, coroutine, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _open(self, count: int) -> list:
        return [await join(self.server, self.room) for _ in range(count)]

    def idle_for(self) -> float:
        return time.monotonic() - self.opened_at

    def wait_until_idle_for(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds - self.idle_for()))

    def talk(self, text: str) -> None:
        """A newcomer says `text` and every idle socket must get it; then an idle one answers."""
        self._run(self._talk(text))

    async def _talk(self, text: str) -> None:
        async with join(self.server, self.room) as newcomer:
            await say(newcomer, text)
            for socket in [*self.sockets, newcomer]:
                assert await next_frame(socket) == chat_message(self.server, text)
            await say(self.sockets[0], "yes")  # and an idle socket can still talk
            for socket in [*self.sockets, newcomer]:
                assert await next_frame(socket) == chat_message(self.server, "yes")

    def close(self) -> None:
        async def close_all():
            await asyncio.gather(*(socket.close() for socket in self.sockets))

        try:
            self._run(close_all(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
