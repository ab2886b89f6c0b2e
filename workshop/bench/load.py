"""The benchmark's clients: N members in one room, sending and counting every delivery.

Every message is ``{"message": "<phase>:<sender>:<seq>"}``. Each member records when each
message reached it; a message's *fan-out latency* is the time from its sending until the
last member received it. A delivery that never arrives (within the drain time) is *lost*;
one that arrives after a later message from the same sender is *reordered*.

Two kinds of load, both bounded in messages and in time:

- burst: senders keep `window` messages in flight (a message is "in flight" until every
  member has it) for at most `seconds`: the deliveries per second the server sustains.
- paced: messages leave at a fixed rate (20 per second in the room by default), as a busy
  chat room would send them: the latency a member sees at that load.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import statistics
import time
from collections.abc import Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

CONNECT_TIMEOUT = 10.0  # seconds for one socket's handshake
CONNECTS_AT_ONCE = 25  # handshakes in flight at the same time
WARM_UP_TIMEOUT = 10.0

Key = tuple[str, int, int]  # (phase, sender, seq)


class BenchError(RuntimeError):
    """The benchmark could not measure (no connection, a room that does not reach everyone)."""


@dataclasses.dataclass
class PhaseResult:
    """What one phase of load in one room delivered."""

    phase: str
    members: int
    messages: int  # messages sent into the room
    delivered: int  # deliveries that arrived (at most messages x members)
    lost: int
    reordered: int
    duplicated: int
    latencies: list[float]  # fan-out latency of every message all members received, seconds
    seconds: float  # from the first send to the last delivery

    @property
    def expected(self) -> int:
        return self.messages * self.members

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: int) -> float | None:
        """Latency percentile in milliseconds (p from 1 to 99, or 100 for the maximum), or
        None with nothing delivered."""
        if not self.latencies:
            return None
        if p >= 100 or len(self.latencies) == 1:
            return max(self.latencies) * 1000
        # The 99 cut points between the percentiles, interpolated between the data.
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def combine(results: Sequence[PhaseResult]) -> PhaseResult:
    """Several rooms' results of one phase as one (latencies pooled, counts summed)."""
    return PhaseResult(
        phase=results[0].phase,
        members=results[0].members,
        messages=sum(r.messages for r in results),
        delivered=sum(r.delivered for r in results),
        lost=sum(r.lost for r in results),
        reordered=sum(r.reordered for r in results),
        duplicated=sum(r.duplicated for r in results),
        latencies=[latency for r in results for latency in r.latencies],
        seconds=max(r.seconds for r in results),
    )


class _Tracker:
    """Counts deliveries per message and the order per (member, sender)."""

    def __init__(self, members: int):
        self.members = members
        self.sent_at: dict[Key, float] = {}
        self.count: dict[Key, int] = {}
        self.last_at: dict[Key, float] = {}
        self.complete: dict[str, int] = {}
        self.order = [dict() for _ in range(members)]  # member -> {(phase, sender): seq}
        self.reordered: dict[str, int] = {}
        self.duplicated: dict[str, int] = {}
        self.on_complete = None  # called with the key when the last member got a message

    def sent(self, key: Key, at: float) -> None:
        self.sent_at[key] = at

    def received(self, member: int, key: Key, at: float) -> None:
        phase, sender, seq = key
        last = self.order[member].get((phase, sender), -1)
        if seq > last:
            self.order[member][(phase, sender)] = seq
        elif seq == last:
            self.duplicated[phase] = self.duplicated.get(phase, 0) + 1
            return
        else:
            self.reordered[phase] = self.reordered.get(phase, 0) + 1
        count = self.count.get(key, 0) + 1
        self.count[key] = count
        if count <= self.members:
            self.last_at[key] = at
        if count == self.members:
            self.complete[phase] = self.complete.get(phase, 0) + 1
            if self.on_complete is not None:
                self.on_complete(key)

    def result(self, phase: str, started: float) -> PhaseResult:
        keys = [key for key in self.sent_at if key[0] == phase]
        delivered = sum(min(self.count.get(key, 0), self.members) for key in keys)
        latencies = [
            self.last_at[key] - self.sent_at[key]
            for key in keys
            if self.count.get(key, 0) >= self.members
        ]
        arrivals = [self.last_at[key] for key in keys if key in self.last_at]
        return PhaseResult(
            phase=phase,
            members=self.members,
            messages=len(keys),
            delivered=delivered,
            lost=len(keys) * self.members - delivered,
            reordered=self.reordered.get(phase, 0),
            duplicated=self.duplicated.get(phase, 0),
            latencies=latencies,
            seconds=(max(arrivals) - started) if arrivals else 0.0,
        )


async def _open(
    url: str, origin: str, gate: asyncio.Semaphore, cookie: str | None
) -> ClientConnection:
    async with gate:
        try:
            return await connect(
                url,
                origin=origin,
                additional_headers=[("Cookie", cookie)] if cookie else None,
                open_timeout=CONNECT_TIMEOUT,
                close_timeout=2,
                ping_interval=None,  # no keep-alive pings during a measurement
                compression=None,  # the same uncompressed frames for every server
                max_size=None,
            )
        except (OSError, TimeoutError, InvalidStatus, ConnectionClosed) as error:
            raise BenchError(f"could not open a WebSocket to {url}: {error!r}") from error


class Room:
    """N member sockets in one chat room, spread round-robin over the servers' URLs.

    Use `await Room.join(...)`, then the phases, then `await room.close()`.
    """

    def __init__(self, name: str, sockets: list[ClientConnection], senders: int):
        self.name = name
        self.sockets = sockets
        self.senders = max(1, min(senders, len(sockets)))
        self.tracker = _Tracker(len(sockets))
        self._readers = [
            asyncio.ensure_future(self._read(index, socket)) for index, socket in enumerate(sockets)
        ]
        self._seq: dict[tuple[str, int], int] = {}

    @classmethod
    async def join(
        cls,
        name: str,
        servers: Sequence[str],
        members: int,
        senders: int = 10,
        cookie: str | None = None,
    ) -> Room:
        """Open `members` sockets to ws://<server>/ws/chat/<name>/; servers are http:// URLs.
        cookie: the Cookie header every socket sends (a session, on a step with users)."""
        gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
        tasks = []
        for index in range(members):
            http_url = servers[index % len(servers)]
            ws_url = "ws://" + http_url.removeprefix("http://") + f"/ws/chat/{name}/"
            tasks.append(asyncio.ensure_future(_open(ws_url, http_url, gate, cookie)))
        done = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [result for result in done if isinstance(result, BaseException)]
        if errors:
            await asyncio.gather(
                *(r.close() for r in done if not isinstance(r, BaseException)),
                return_exceptions=True,
            )
            raise BenchError(f"{len(errors)} of {members} members could not join: {errors[0]}")
        return cls(name, list(done), senders)

    async def _read(self, member: int, socket: ClientConnection) -> None:
        received = self.tracker.received
        try:
            async for frame in socket:
                at = time.perf_counter()
                try:
                    phase, sender, seq = json.loads(frame)["message"].split(":")
                    key = (phase, int(sender), int(seq))
                except (ValueError, KeyError, TypeError, AttributeError):
                    # Not one of ours: an error frame, say, or what a step with history
                    # (08 on) sends a member on joining, {"history": [...], "earlier": n},
                    # whose earlier messages are not deliveries of this run.
                    continue
                received(member, key, at)
        except ConnectionClosed:
            pass  # what this member missed is counted as lost

    async def _send(self, phase: str, sender: int, at: float | None = None) -> None:
        seq = self._seq.get((phase, sender), 0)
        self._seq[(phase, sender)] = seq + 1
        key = (phase, sender, seq)
        self.tracker.sent(key, at if at is not None else time.perf_counter())
        try:
            await self.sockets[sender].send(json.dumps({"message": f"{phase}:{sender}:{seq}"}))
        except ConnectionClosed as closed:
            raise BenchError(
                f"the server closed member {sender}'s socket in room {self.name} ({closed})"
            ) from closed

    async def _drain(self, phase: str, seconds: float) -> None:
        """Wait until every member has every message of the phase, at most `seconds`."""
        expected = sum(1 for key in self.tracker.sent_at if key[0] == phase)
        deadline = time.perf_counter() + seconds
        while self.tracker.complete.get(phase, 0) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)

    async def warm_up(self, timeout: float = WARM_UP_TIMEOUT) -> None:
        """One message from every sender must reach every member, or the room is broken."""
        for sender in range(self.senders):
            await self._send("w", sender)
        await self._drain("w", timeout)
        result = self.tracker.result("w", 0.0)
        if result.lost:
            raise BenchError(
                f"room {self.name}: {result.lost} of {result.expected} warm-up deliveries did "
                f"not arrive within {timeout:.0f} s. The room does not reach every member: are "
                "the servers' channel layers shared (an in-memory layer is per process)?"
            )

    async def burst(
        self, deliveries: int, seconds: float, window: int = 10, drain: float = 10.0
    ) -> PhaseResult:
        """Keep `window` messages in flight until `deliveries` are sent or `seconds` pass."""
        messages = max(self.senders, math.ceil(deliveries / len(self.sockets)))
        in_flight = asyncio.Semaphore(window)
        self.tracker.on_complete = lambda key: key[0] == "b" and in_flight.release()
        started = time.perf_counter()
        deadline = started + seconds
        try:
            for index in range(messages):
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(in_flight.acquire(), remaining)
                except TimeoutError:
                    break
                await self._send("b", index % self.senders)
            await self._drain("b", drain)
        finally:
            self.tracker.on_complete = None
        return self.tracker.result("b", started)

    async def all_at_once(self, messages_each: int, drain: float = 10.0) -> PhaseResult:
        """Every member sends `messages_each` messages, all members at the same moment,
        none waiting for anything: no window, no pacing."""
        started = time.perf_counter()

        async def member(sender: int) -> None:
            for _ in range(messages_each):
                await self._send("a", sender)

        await asyncio.gather(*(member(sender) for sender in range(len(self.sockets))))
        await self._drain("a", drain)
        return self.tracker.result("a", started)

    async def paced(
        self, rate: float, seconds: float, drain: float = 10.0, phase: str = "p"
    ) -> PhaseResult:
        """Send `rate` messages per second for `seconds`, round-robin over the senders.

        Latency counts from when a message was due, not when it left: a client that falls
        behind its own schedule does not hide the delay (no "coordinated omission").
        """
        messages = max(1, round(rate * seconds))
        started = time.perf_counter() + 0.02
        for index in range(messages):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._send(phase, index % self.senders, at=due)
        await self._drain(phase, drain)
        return self.tracker.result(phase, started)

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
