"""A WebSocket client that talks to a step the way the room page does."""

from __future__ import annotations

import asyncio
import contextlib
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from workshop.accounts import Account, cookie_header, session_for
from workshop.step_server import StepServer

RECEIVE_TIMEOUT = 10.0

# join()'s default: logged in as the server's first account on a step with users.
LOGGED_IN = "logged in"


class HandshakeServerError(AssertionError):
    """The server answered a WebSocket handshake with a 5xx: never right, whatever was sent."""


class connect_checked(connect):
    """websockets' `connect`, except that a 5xx answer to the handshake fails the test.

    Every socket the tests open goes through here, so no test that expects a refusal
    (a 403, caught as InvalidStatus) can pass on a server error by accident.
    """

    async def connect(self):
        try:
            return await super().connect()
        except InvalidStatus as refused:
            status = refused.response.status_code
            if status >= 500:
                raise HandshakeServerError(
                    f"the handshake for {self.uri} got HTTP {status}: a server error"
                ) from None
            raise


def open_socket(
    server: StepServer, path: str, origin: str | None = "same", session: str | None = LOGGED_IN
):
    """Open a socket to any path (use with `async with`). origin="same" sends the page's.

    On a step with users the socket carries a session cookie, as the room page's does:
    by default the server's first account's; session=None for none (anonymous), or any
    other value (a forged cookie, or session_for(server, account) for another user).
    """
    if origin == "same":
        origin = server.url
    if session == LOGGED_IN:
        session = session_for(server)
    cookie = cookie_header(session)
    return connect_checked(
        server.ws_url(path),
        origin=origin,
        additional_headers=[("Cookie", cookie)] if cookie else None,
        open_timeout=10,
        max_size=None,
    )


def join(
    server: StepServer, room: str, origin: str | None = "same", session: str | None = LOGGED_IN
):
    """Open a socket to a room (use with `async with`), as the room page does."""
    return open_socket(server, f"/ws/chat/{room}/", origin, session)


def notifications_of(server: StepServer, account: Account):
    """Open the notification socket of a page of account's (from step 09 on; `async with`)."""
    return open_socket(server, "/ws/notifications/", session=session_for(server, account))


def chat_message(server: StepServer, text: str, sender: Account | None = None) -> dict:
    """The frame every member receives when `sender` says `text`.

    From step 07 on, the server adds the sender's name (by default its first account,
    the one join() logs in with); before that, a frame is the message alone.
    """
    if not server.accounts:
        return {"message": text}
    return {"user": (sender or server.accounts[0]).username, "message": text}


async def say(socket, text: str) -> None:
    await socket.send(json.dumps({"message": text}))


# From step 08 on, a socket's first frame is its room's history,
# {"history": [messages], "earlier": N}, and every message carries the "id" and the
# "created" time the database gave it.
STORED_FIELDS = ("id", "created")


def is_history(frame: dict) -> bool:
    return "history" in frame


async def _receive(socket, timeout: float, raw: bool) -> dict:
    """The next frame (see next_frame); raises TimeoutError if none comes in time."""
    async with asyncio.timeout(timeout):
        frame = json.loads(await socket.recv())
        while not raw and is_history(frame):
            frame = json.loads(await socket.recv())
    if raw:
        return frame
    return {key: value for key, value in frame.items() if key not in STORED_FIELDS}


async def next_frame(socket, timeout: float = RECEIVE_TIMEOUT, raw: bool = False) -> dict:
    """The next JSON frame from the server; fails the test if none comes in time.

    By default, as the tests of every step compare it: a history frame is passed
    over, and a message's id and time are left out (they differ on every run).
    raw=True returns the next frame exactly as the server sent it.
    """
    try:
        return await _receive(socket, timeout, raw)
    except TimeoutError:
        raise AssertionError(f"no frame arrived within {timeout} s") from None


async def next_history(socket, timeout: float = RECEIVE_TIMEOUT) -> list[dict]:
    """The history frame a socket gets first on a step with history: its messages."""
    frame = await next_frame(socket, timeout, raw=True)
    assert is_history(frame), f"expected the room's history first, received {frame!r}"
    return frame["history"]


async def nothing_arrives(socket, seconds: float = 0.5, raw: bool = False) -> bool:
    """True if the server sends nothing on this socket for `seconds` (history frames
    pass unremarked, unless raw=True), else False.

    Use it as `assert await nothing_arrives(...)`; what did arrive is printed, and pytest
    shows it with the failure.
    """
    try:
        frame = await _receive(socket, seconds, raw)
    except TimeoutError:
        return True
    print(f"expected silence for {seconds} s, received {frame!r}")
    return False


async def nothing_more_arrives(sockets, seconds: float = 1.0) -> bool:
    """True if none of the sockets receives anything for `seconds`, all watched at once
    (not one after the other: 200 sockets x 0.1 s in a row would be 20 s of waiting)."""
    quiet = await asyncio.gather(*(nothing_arrives(socket, seconds) for socket in sockets))
    return all(quiet)


async def close_code(socket, timeout: float = 10.0) -> int:
    """Read (and drop) frames until the server closes the socket; return the close code."""

    async def drain():
        with contextlib.suppress(ConnectionClosed):
            while True:
                await socket.recv()

    await asyncio.wait_for(drain(), timeout)
    return socket.close_code


# Two rounds: the first from a room just joined, the second from a room that has delivered
# a round. A third would start where the second did (every mailbox read, every member
# still in the group, each sender's earlier messages delivered before it sends again),
# so it would check nothing more, at the cost of another round.
CROWD_ROUNDS = 2


async def chat_in_rounds(server, room: str, clients: int, senders: int, rounds: int):
    """`clients` sockets join one room; in each round, each of the first `senders` sends one
    message, then everyone reads that round's messages before the next round starts.

    Rounds keep every member's mailbox below channels_redis' capacity (100 messages per
    server process): a client that blasts faster than members read overflows it, and
    group_send then drops by design. Returns (what each sender sent, what each socket got).
    """
    sent_by = {sender: [f"{sender}:{n}" for n in range(rounds)] for sender in range(senders)}
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(join(server, room)) for _ in range(clients)]
        received = [[] for _ in sockets]

        async def read_round(index, socket):
            for _ in range(senders):
                received[index].append((await next_frame(socket, timeout=60))["message"])

        for n in range(rounds):
            await asyncio.gather(*(say(sockets[s], texts[n]) for s, texts in sent_by.items()))
            await asyncio.gather(*(read_round(i, s) for i, s in enumerate(sockets)))
        assert await nothing_more_arrives(sockets)  # nothing extra
    return sent_by, received


async def burst_across_rooms(server, rooms: int, per_room: int, messages_each: int):
    """`rooms` rooms of `per_room` clients; every client sends `messages_each` messages, all at
    once, without waiting for anything; then every client reads until it has its room's share.

    No rounds here: this is the burst that overflows a server process's mailbox of the
    default capacity (100 messages; from step 06 the layer's `capacity` holds it). Returns
    (the room of each client, what each client sent, what each client received before 10 s
    of silence).
    """
    room_of = [f"burst-{r}" for r in range(rooms) for _ in range(per_room)]
    sent_by = {
        c: [f"{c}:{n} in {room_of[c]}" for n in range(messages_each)] for c in range(len(room_of))
    }
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(join(server, room)) for room in room_of]
        received = [[] for _ in sockets]

        async def read(index, socket):
            with contextlib.suppress(AssertionError):  # 10 s of silence: stop, the caller counts
                while len(received[index]) < per_room * messages_each:
                    received[index].append((await next_frame(socket, timeout=10))["message"])

        readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(sockets)]
        await asyncio.gather(
            *(say(sockets[c], text) for c, texts in sent_by.items() for text in texts)
        )
        await asyncio.gather(*readers)
        assert await nothing_more_arrives(sockets)  # nothing extra
    return room_of, sent_by, received


def assert_all_delivered_in_order(sent_by: dict, received: list[list[str]]) -> None:
    """Every socket got every message, and each sender's messages in the order sent."""
    total = sum(len(texts) for texts in sent_by.values())
    for index, log in enumerate(received):
        assert len(log) == total, f"client {index} got {len(log)} of {total} messages"
        for sender, texts in sent_by.items():
            from_sender = [text for text in log if text.startswith(f"{sender}:")]
            assert from_sender == texts, f"client {index}: messages of {sender} lost or reordered"


def handshake_refusal(server, room: str, origin: str | None) -> int | None:
    """The HTTP status a refused WebSocket handshake got, or None if the socket opened."""
    return path_refusal(server, f"/ws/chat/{room}/", origin)


def path_refusal(server, path: str, origin: str | None = "same") -> int | None:
    """The HTTP status a refused handshake for `path` got, or None if the socket opened."""

    async def attempt():
        async with open_socket(server, path, origin=origin):
            pass

    try:
        asyncio.run(attempt())
    except InvalidStatus as refused:
        return refused.response.status_code
    return None
