"""Chat members that talk to the stack through nginx, as the room page does.

Member reconnects by itself when its socket closes (the page's behaviour since step 6)
and records when it was connected and what it received, so a test can say which
messages it must have got. IdleMember holds one socket open, silent, in a thread of its
own, while other tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from tests.chat_client import is_history, next_frame
from workshop.accounts import cookie_header, session_for

RECONNECT_DELAY = 0.2  # seconds; the page waits 0.25 to 8 s, the test need not


def open_socket(stack, room: str):
    """A socket through nginx with the page's origin and, on a step with users, the
    session cookie of the stack's demo account (logged in through nginx once). No client
    pings: a browser sends none, so only the server's pings keep an idle socket alive
    through the proxy."""
    cookie = cookie_header(session_for(stack))
    return connect(
        stack.ws_url(f"/ws/chat/{room}/"),
        origin=stack.url,
        additional_headers=[("Cookie", cookie)] if cookie else None,
        open_timeout=10,
        ping_interval=None,
    )


class Member:
    """A member that stays in a room until stop(), reconnecting whenever its socket closes."""

    def __init__(self, stack, room: str, name: str):
        self.stack, self.room, self.name = stack, room, name
        self.received: list[tuple[str, float]] = []  # (message, when)
        self.intervals: list[list[float]] = []  # [opened, closed]; closed is inf while open
        self.socket = None
        self.connected = asyncio.Event()
        self._stopping = False
        self.last_error: BaseException | None = None

    @property
    def reconnects(self) -> int:
        return len(self.intervals) - 1

    def was_connected_throughout(self, start: float, end: float) -> bool:
        return any(opened <= start and end <= closed for opened, closed in self.intervals)

    def got(self, text: str) -> bool:
        return any(message == text for message, _ in self.received)

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with open_socket(self.stack, self.room) as socket:
                    self.socket = socket
                    self.intervals.append([time.monotonic(), float("inf")])
                    self.connected.set()
                    with contextlib.suppress(ConnectionClosed):
                        async for text in socket:
                            frame = json.loads(text)
                            if is_history(frame):  # from step 08: what was said before
                                continue
                            self.received.append((frame["message"], time.monotonic()))
            except (OSError, TimeoutError, WebSocketException) as error:
                # nginx answered 502, or the handshake failed: try again, as the page does
                self.last_error = error
            if self.socket is not None:
                self.intervals[-1][1] = time.monotonic()
                self.socket = None
            self.connected.clear()
            if not self._stopping:
                await asyncio.sleep(RECONNECT_DELAY)

    async def connects(self, timeout: float) -> bool:
        """True once the member is connected; False if it is not within timeout."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def say(self, text: str) -> bool:
        """Send if connected; False if the socket is closed or closing."""
        socket = self.socket
        if socket is None:
            return False
        try:
            await socket.send(json.dumps({"message": text}))
        except ConnectionClosed:
            return False
        return True

    async def wait_for(self, text: str, timeout: float) -> float | None:
        """When text arrived (monotonic seconds), or None if it did not within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message, when in self.received:
                if message == text:
                    return when
            await asyncio.sleep(0.01)
        return None

    async def stop(self) -> None:
        self._stopping = True
        if self.socket is not None:
            await self.socket.close()


class IdleMember(threading.Thread):
    """One silent socket in a thread of its own: opened at once, used again on release()."""

    def __init__(self, stack, room: str):
        super().__init__(daemon=True)
        self.stack, self.room = stack, room
        self.opened = threading.Event()
        self._check = threading.Event()
        self.opened_at: float | None = None
        self.echo: dict | None = None
        self.error: BaseException | None = None
        self.close_code: int | None = None

    def run(self) -> None:
        asyncio.run(self._hold())

    async def _hold(self) -> None:
        try:
            async with open_socket(self.stack, self.room) as socket:
                self.opened_at = time.monotonic()
                self.opened.set()
                await asyncio.to_thread(self._check.wait)
                try:
                    await socket.send(json.dumps({"message": "still here"}))
                    self.echo = await next_frame(socket, 10)
                except ConnectionClosed as closed:
                    self.error, self.close_code = closed, socket.close_code
        except Exception as error:  # reported by the test that checks this member
            self.error = error
        finally:
            self.opened.set()

    def release(self) -> None:
        """Send one message on the socket and read its echo; then join the thread."""
        self._check.set()
        self.join(timeout=20)
