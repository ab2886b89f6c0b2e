"""`python -m workshop bench-production`: the load benchmarks, with and without nginx.

The last step's production stack (workshop/production.py) is measured two ways, a minute
apart on the same processes: clients spread over the two Daphne processes directly, and
every client through nginx. Two loads, as in docs/benchmark.md and docs/guarantees.md:

  crowd   one room of 200 members: p50/p99 fan-out latency at 20 messages/s, and the most
          deliveries per second with 10 messages in flight
  rooms   20 rooms of 10 members bursting at once (1 message in flight per room)

Every delivery is counted (load.Room); the table says what was lost. Figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio

from .accounts import cookie_header, session_for
from .bench.load import Room, combine
from .bench.report import text_table
from .bench.runner import run_async, say
from .manifest import load_steps
from .production import ProductionStack
from .production_nginx import INSTALL_HINT, find_nginx

COLUMNS = [
    ("route", "route"),
    ("load", "load"),
    ("p50", "p50 ms"),
    ("p99", "p99 ms"),
    ("per_second", "deliveries/s"),
    ("delivered", "delivered"),
    ("lost", "lost"),
]


def _row(route: str, load: str, result, latency=None) -> dict:
    return {
        "route": route,
        "load": load,
        "p50": latency.percentile(50) if latency else None,
        "p99": latency.percentile(99) if latency else None,
        "per_second": round(result.deliveries_per_second),
        "delivered": result.delivered,
        "lost": result.lost + (latency.lost if latency else 0),
    }


async def crowd(servers: list[str], cookie: str | None, members: int, rate: float, seconds: float):
    """One room of `members`: (paced result, burst result)."""
    room = await Room.join("crowd", servers, members, cookie=cookie)
    try:
        await room.warm_up()
        paced = await room.paced(rate, seconds)
        burst = await room.burst(deliveries=members * 400, seconds=seconds)
        return paced, burst
    finally:
        await room.close()


async def rooms(servers: list[str], cookie: str | None, count: int, members: int, seconds: float):
    """`count` rooms of `members`, bursting at the same time: their combined result."""
    # One sender and one message in flight per room: how fast the rooms go side by side.
    # The burst in which every member sends at once is `workshop bench`'s (and
    # tests/reliability/test_load.py's), counted against the mailbox each process has.
    joined = [
        await Room.join(f"room-{n}", servers, members, senders=1, cookie=cookie)
        for n in range(count)
    ]
    try:
        for room in joined:
            await room.warm_up()
        results = await asyncio.gather(
            *(room.burst(members * 400, seconds, window=1) for room in joined)
        )
        return combine(results)
    finally:
        await asyncio.gather(*(room.close() for room in joined))


def measure(stack: ProductionStack, args) -> list[dict]:
    routes = {
        f"direct, {len(stack.servers)} x Daphne": [server.url for server in stack.servers],
        "through nginx": [stack.url],
    }
    # On a step with users every member is the demo account, logged in through nginx (a
    # session lives in the database, so the same cookie works on each Daphne directly).
    cookie = cookie_header(session_for(stack))
    rows = []
    for round_number in range(args.repeat):
        for route, servers in routes.items():
            say(f"round {round_number + 1}: {route}: {args.members}-member room ...")
            paced, burst = run_async(
                lambda s=servers: crowd(s, cookie, args.members, args.rate, args.seconds)
            )
            rows.append(_row(route, f"{args.members}-member room, paced", paced, paced))
            rows.append(_row(route, f"{args.members}-member room, burst", burst))
            say(f"round {round_number + 1}: {route}: {args.rooms} rooms at once ...")
            combined = run_async(lambda s=servers: rooms(s, cookie, args.rooms, 10, args.seconds))
            rows.append(_row(route, f"{args.rooms} rooms of 10, burst", combined))
    return rows


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench-production",
        help="load figures for the last step, direct and through nginx (docs/benchmark.md)",
    )
    parser.add_argument("--members", type=int, default=200, help="the crowded room's size (200)")
    parser.add_argument("--rooms", type=int, default=20, help="rooms of 10 bursting at once (20)")
    parser.add_argument("--rate", type=float, default=20, help="messages/s, paced phase (20)")
    parser.add_argument("--seconds", type=float, default=6, help="length of each phase (6)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, routes interleaved (1)")
    parser.set_defaults(handler=run)
    return parser


def run(args) -> int:
    if find_nginx() is None:
        say(f"This benchmark needs nginx, and it was not found. {INSTALL_HINT}")
        return 2
    step = load_steps()[-1]
    with ProductionStack(step, say=say, machine_senders=True) as stack:
        rows = measure(stack, args)
    print(text_table(rows, COLUMNS))
    return 0 if all(row["lost"] == 0 for row in rows) else 1
