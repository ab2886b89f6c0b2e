"""Run the benchmark: start the variants' servers, offer each the same load, collect rows.

The order is chosen for fair ratios on a busy machine: all servers start first, then for each
N every variant is measured in turn, so the variants compared at one N are measured minutes
(not a quarter of an hour) apart, under the same background load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime
import importlib.util
import os
import pathlib
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from ..accounts import DEMO, prepare_database
from ..manifest import get_step
from ..redis_server import RedisServer, server_version
from ..step_server import StepServerError, copy_project, project_env
from .columns import COLUMNS, SLOW_COLUMNS
from .load import BenchError, PhaseResult, Room, combine
from .report import Results
from .servers import (
    CONFIGS,
    LAYER_NAMES,
    SLOW,
    SWEEP,
    ServerSet,
    Variant,
    cpu_seconds,
    project_layer_name,
)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much load, for how long. Every phase is bounded in messages and in seconds."""

    members: tuple[int, ...] = (1, 10, 50, 200)
    rate: float = 20.0  # paced phase: messages per second into the room
    paced_seconds: float = 6.0
    burst_deliveries: int = 20_000  # burst phase: at most this many deliveries ...
    burst_seconds: float = 5.0  # ... and at most this long
    window: int = 10  # burst phase: messages in flight
    senders: int = 10  # members that send (round-robin)
    drain_seconds: float = 10.0  # after the last send: later than this counts as lost
    target_p99_ms: float = 100.0
    # The burst across rooms: every member of every room sends this many messages at once.
    burst_rooms: int = 20
    burst_room_members: int = 10
    burst_room_messages: int = 5
    # Later than this after the burst counts as lost. Longer than drain_seconds: a dropped
    # message never comes, a late one on a busy machine does, and the two must not be confused.
    burst_rooms_drain_seconds: float = 30.0
    # The slow-handler demonstration: quiet rooms next to one room whose handler takes 100 ms.
    slow_rooms: int = 4
    slow_room_members: int = 5
    slow_other_rate: float = 10.0  # messages per second in each quiet room
    slow_rate: float = 5.0  # messages per second into the slow room
    slow_seconds: float = 4.0
    repeat: int = 1  # measure every cell this many times (interleaved); report the medians
    mode: str = "full"

    @property
    def target_members(self) -> int:
        return max(self.members)

    @property
    def target(self) -> str:
        return (
            f"{self.target_members}-member room at {self.rate:g} messages/s "
            f"({self.target_members * self.rate:,.0f} deliveries/s): "
            f"p99 under {self.target_p99_ms:g} ms, nothing lost"
        )


FULL = Plan()
# For the test suite and the notebook: every variant, a few seconds each.
QUICK = Plan(
    members=(1, 10),
    paced_seconds=0.5,
    burst_deliveries=300,
    burst_seconds=0.5,
    drain_seconds=3.0,
    slow_rooms=2,
    slow_room_members=3,
    slow_seconds=1.0,
    burst_rooms=4,
    burst_room_members=5,
    burst_room_messages=3,
    burst_rooms_drain_seconds=5.0,
    mode="quick",
)

Progress = Callable[[str], None]
UVICORN_REQUIREMENT = "uvicorn[standard]==0.54.0"  # as pinned in pyproject.toml's dev extra


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _loop_factory():
    """uvloop for the clients when installed (it comes with uvicorn[standard]): less client
    overhead in every measurement; the plain asyncio loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_async(make_coroutine: Callable[[], object]):
    """Run a coroutine to completion on a fresh loop, in a thread if one is already running
    (as in Jupyter, whose kernel has its own loop)."""

    def target():
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(make_coroutine())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return target()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(target).result()


def _round(value, digits=1):
    return None if value is None else round(value, digits)


def _variant_fields(variant: Variant) -> dict:
    return {
        "variant": variant.name,
        "description": variant.description,
        "step": f"step{variant.step:02d}" if variant.step else "-",
        "consumer": variant.consumer,
        "layer": variant.layer_name,
        "server": variant.server,
        "processes": variant.processes,
    }


def refuse_a_layer_per_process(variant: Variant, project_dir: pathlib.Path) -> None:
    """A variant on its step's own layer measures that step's Redis layer. A folder whose
    settings name the in-memory layer would be measured under that name, and fail only
    where two processes must share a room: say so before anything is measured."""
    if project_layer_name(project_dir) == LAYER_NAMES["memory"]:
        raise BenchError(
            f"{variant.name} measures step {variant.step}'s own channel layer, and "
            f"{project_dir.name}/chatsite/settings.py names InMemoryChannelLayer: it lives "
            "inside one process, so two servers (or a worker, or a manage.py command) never "
            "share a room through it. Put back the CHANNEL_LAYERS of the step (channels_redis); "
            "the in-memory layer has a variant of its own, step04-memory."
        )


def accounts_for(step: int | None) -> tuple:
    """The accounts a copy of the step gets: on a step with users, one, which every member
    of every room is (logged in once; the servers raise the per-user limits)."""
    return (DEMO,) if step is not None and get_step(step).has("login") else ()


class _Bench:
    """One benchmark run: a Redis, scratch copies of the steps, the servers."""

    def __init__(
        self, plan: Plan, redis_url: str, redis_pid: int | None, scratch, projects, progress
    ):
        self.plan = plan
        self.redis_url = redis_url
        self.redis_pid = redis_pid
        self.scratch = pathlib.Path(scratch)
        self.projects = projects
        self.progress = progress
        self.run_id = uuid.uuid4().hex[:6]
        self.copies: dict[int, pathlib.Path] = {}
        self._copy_lock = threading.Lock()

    def copy_of(self, step: int | None) -> pathlib.Path | None:
        if step is None:
            return None
        with self._copy_lock:  # variants start two at a time: copy each step once
            return self._copy(step)

    def _copy(self, step: int) -> pathlib.Path:
        if step not in self.copies:
            source = pathlib.Path(self.projects.get(step) or get_step(step).path)
            parent = self.scratch / f"step{step}"
            parent.mkdir()
            copy = copy_project(source, parent)
            if accounts_for(step):  # its database: the tables, and the members' account
                self.progress(f"Preparing {copy.name}: migrate, an account ...")
                prepare_database(copy, project_env(self.redis_url), accounts_for(step))
            self.copies[step] = copy
        return self.copies[step]

    def start(self, variant: Variant, slow_room: str = "slow") -> ServerSet:
        project_dir = self.copy_of(variant.step)
        if variant.layer == "step":
            refuse_a_layer_per_process(variant, project_dir)
        servers = ServerSet(
            variant,
            project_dir,
            self.redis_url,
            self.scratch,
            slow_room,
            accounts=accounts_for(variant.step),
        )
        servers.start()
        for url in servers.urls:
            if variant.step is None:
                self.progress(f"The floor (workshop/bench/floor.py) serves at {url}")
            else:
                what = f"{variant.server.capitalize()} serves {servers.project_dir.name}"
                self.progress(f"{what} at {url} ({variant.name})")
        return servers

    def start_all(self, variants: Sequence[Variant]) -> dict[str, ServerSet]:
        """Start every variant's servers, two variants at a time (this machine has 2 cores)."""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [(v, pool.submit(self.start, v)) for v in variants]
            concurrent.futures.wait([f for _, f in futures])
        started = {v.name: f.result() for v, f in futures if f.exception() is None}
        failed = [(v, f.exception()) for v, f in futures if f.exception() is not None]
        if failed:
            for servers in started.values():
                servers.stop()
            variant, error = failed[0]
            raise BenchError(f"{variant.name} did not start: {error}") from error
        return started

    def redis_cpu(self) -> float | None:
        return cpu_seconds(self.redis_pid) if self.redis_pid else None

    # --- one cell: a variant at one N -------------------------------------------------------

    def measure(self, variant: Variant, servers: ServerSet, members: int, round_: int = 0) -> dict:
        plan = self.plan
        row = {**_variant_fields(variant), "members": members, "rate": plan.rate}
        room_name = f"bench-{self.run_id}-{variant.name}-{members}-{round_}"

        async def cell():
            room = await Room.join(
                room_name, servers.urls, members, plan.senders, cookie=servers.cookie
            )
            try:
                await room.warm_up(max(plan.drain_seconds, 3.0))
                cpu0, redis0 = servers.cpu_seconds(), self.redis_cpu()
                burst = await room.burst(
                    plan.burst_deliveries, plan.burst_seconds, plan.window, plan.drain_seconds
                )
                cpu1, redis1, client1 = servers.cpu_seconds(), self.redis_cpu(), time.process_time()
                paced = await room.paced(plan.rate, plan.paced_seconds, plan.drain_seconds)
                cpu2, client2 = servers.cpu_seconds(), time.process_time()
            finally:
                await room.close()
            return burst, paced, (cpu0, cpu1, cpu2), (redis0, redis1), (client1, client2)

        if members == plan.target_members:  # first: a failing cell below must not hide it
            row.update(self.measure_rooms_burst(variant, servers, round_))
        try:
            burst, paced, cpu, redis_cpu, client = run_async(cell)
        except BenchError as error:
            row["error"] = "; ".join(filter(None, [row.get("error"), str(error)]))
            return row

        def per_1k(before, after, deliveries):
            if before is None or after is None or not deliveries:
                return None
            return round((after - before) / deliveries * 1000, 3)

        row.update(
            burst_messages=burst.messages,
            burst_deliveries_per_s=round(burst.deliveries_per_second),
            server_cpu_s_per_1k=per_1k(cpu[0], cpu[1], burst.delivered),
            redis_cpu_s_per_1k=per_1k(redis_cpu[0], redis_cpu[1], burst.delivered),
            paced_messages=paced.messages,
            paced_deliveries_per_s=round(paced.deliveries_per_second),
            p50_ms=_round(paced.percentile(50)),
            p95_ms=_round(paced.percentile(95)),
            p99_ms=_round(paced.percentile(99)),
            max_ms=_round(paced.percentile(100)),
            server_cpu_pct=(
                round((cpu[2] - cpu[1]) / paced.seconds * 100)
                if None not in cpu and paced.seconds
                else None
            ),
            client_cpu_pct=(
                round((client[1] - client[0]) / paced.seconds * 100) if paced.seconds else None
            ),
            lost=burst.lost + paced.lost,
            reordered=burst.reordered + paced.reordered,
            duplicated=burst.duplicated + paced.duplicated,
        )
        return row

    def measure_rooms_burst(self, variant: Variant, servers: ServerSet, round_: int = 0) -> dict:
        """Rooms of a few members each, every member sending a few messages at the same
        moment (a class that all press Enter together): what arrives, what is lost."""
        plan = self.plan
        prefix = f"rooms-{self.run_id}-{variant.name}-{round_}"

        async def cell():
            rooms = []
            try:
                for index in range(plan.burst_rooms):
                    rooms.append(
                        # One sender for the warm-up; in the burst, every member sends.
                        await Room.join(
                            f"{prefix}-{index}",
                            servers.urls,
                            plan.burst_room_members,
                            senders=1,
                            cookie=servers.cookie,
                        )
                    )
                for room in rooms:
                    await room.warm_up(max(plan.drain_seconds, 3.0))
                return combine(
                    await asyncio.gather(
                        *(
                            room.all_at_once(
                                plan.burst_room_messages, plan.burst_rooms_drain_seconds
                            )
                            for room in rooms
                        )
                    )
                )
            finally:
                await asyncio.gather(*(room.close() for room in rooms))

        try:
            result = run_async(cell)
        except BenchError as error:
            return {"error": f"burst across rooms: {error}"}
        return {
            "rooms_burst_deliveries": result.expected,
            "rooms_burst_lost": result.lost,
            "rooms_burst_reordered": result.reordered,
        }

    # --- the slow-handler demonstration -----------------------------------------------------

    def measure_slow(
        self, variant: Variant, servers: ServerSet, slow_room: str, round_: int = 0
    ) -> list[dict]:
        plan = self.plan

        async def demo():
            quiet = []
            slow = None
            try:
                for index in range(plan.slow_rooms):
                    name = f"quiet{index}-{self.run_id}-{variant.name}-{round_}"
                    quiet.append(
                        await Room.join(
                            name,
                            servers.urls,
                            plan.slow_room_members,
                            plan.senders,
                            cookie=servers.cookie,
                        )
                    )
                slow = await Room.join(slow_room, servers.urls, 1, 1, cookie=servers.cookie)
                for room in [*quiet, slow]:
                    await room.warm_up(max(plan.drain_seconds, 3.0))
                phases = {}
                for phase, busy in (("p", False), ("q", True)):
                    loads = [
                        room.paced(
                            plan.slow_other_rate, plan.slow_seconds, plan.drain_seconds, phase
                        )
                        for room in quiet
                    ]
                    if busy:
                        loads.append(
                            slow.paced(plan.slow_rate, plan.slow_seconds, plan.drain_seconds, phase)
                        )
                    results = await asyncio.gather(*loads)
                    others = combine(results[: len(quiet)])
                    phases[busy] = (others, results[-1] if busy else None)
                return phases
            finally:
                await asyncio.gather(*(r.close() for r in [*quiet, slow] if r is not None))

        base = {
            **{k: v for k, v in _variant_fields(variant).items() if k in SLOW_COLUMNS},
            "slow_mode": variant.slow_mode,
            "rooms": plan.slow_rooms,
            "members_per_room": plan.slow_room_members,
            "rate_per_room": plan.slow_other_rate,
            "slow_rate": plan.slow_rate,
        }
        try:
            phases = run_async(demo)
        except BenchError as error:
            return [{**base, "slow_room_busy": busy, "error": str(error)} for busy in (False, True)]
        rows = []
        for busy, (others, slow) in phases.items():
            slow_result: PhaseResult | None = slow
            rows.append(
                {
                    **base,
                    "slow_room_busy": busy,
                    "p50_ms": _round(others.percentile(50)),
                    "p99_ms": _round(others.percentile(99)),
                    "max_ms": _round(others.percentile(100)),
                    "slow_room_p50_ms": _round(slow_result.percentile(50)) if slow_result else None,
                    "lost": others.lost + (slow_result.lost if slow_result else 0),
                    "reordered": others.reordered + (slow_result.reordered if slow_result else 0),
                    "duplicated": others.duplicated
                    + (slow_result.duplicated if slow_result else 0),
                }
            )
        return rows


def _progress_line(row: dict) -> str:
    if row.get("error"):
        return f"{row['variant']:<26} N={row['members']:<4} ERROR: {row['error']}"
    return (
        f"{row['variant']:<26} N={row['members']:<4} burst {row['burst_deliveries_per_s']:>7,} "
        f"deliveries/s | at {row['rate']:g} msg/s: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
        f" | lost {row['lost']}, reordered {row['reordered']}"
        + (
            f" | burst across rooms: lost {row['rooms_burst_lost']:,} of "
            f"{row['rooms_burst_deliveries']:,}"
            if row.get("rooms_burst_deliveries")
            else ""
        )
    )


# Counts are summed over the repeats (a message lost in any run is lost), and so is what
# they are counted out of, so that "lost X of Y" stays a true fraction.
_SUMMED = (
    "lost", "reordered", "duplicated",
    "rooms_burst_deliveries", "rooms_burst_lost", "rooms_burst_reordered",
)  # fmt: skip


def _median_row(runs: list[dict]) -> dict:
    """One row from repeated runs of a cell: the median of each measurement, the sum of the
    counts (a message lost in any run is lost), and the errors of any run."""
    good = [run for run in runs if not run.get("error")]
    row = dict(good[0] if good else runs[0])
    row["repeats"] = len(runs)
    for key, value in row.items():
        if key in _SUMMED:
            row[key] = sum(run.get(key) or 0 for run in good)
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and key.endswith(("_ms", "_per_s", "_per_1k", "_pct", "_messages"))
        ):
            values = [run[key] for run in good if run.get(key) is not None]
            if values:
                middle = statistics.median(values)
                row[key] = round(middle, 3) if isinstance(middle, float) else middle
    errors = [run["error"] for run in runs if run.get("error")]
    if errors:
        row["error"] = f"{len(errors)} of {len(runs)} runs failed: {errors[0]}"
    return row


def _meets_target(row: dict, plan: Plan) -> bool:
    return (
        not row.get("error")
        and row["lost"] == 0
        and row["reordered"] == 0
        and not row.get("rooms_burst_lost")
        and row["p99_ms"] is not None
        and row["p99_ms"] < plan.target_p99_ms
    )


def _problem(row: dict) -> str:
    if row.get("error"):
        return row["error"]
    lost = row["lost"] + (row.get("rooms_burst_lost") or 0)
    return f"{lost} deliveries lost (not delivered within the drain time)"


def _is_dirty(row: dict) -> bool:
    """A cell that lost messages or failed may leave a backlog: restart before the next."""
    return bool(row.get("error") or row.get("lost") or row.get("rooms_burst_lost"))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("django", "channels", "daphne", "channels-redis", "redis", "uvicorn",
                 "uvloop", "websockets", "twisted"):  # fmt: skip
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def run_benchmark(
    plan: Plan = FULL,
    variants: Sequence[Variant] = SWEEP,
    configs: Sequence[Variant] = CONFIGS,
    slow: Sequence[Variant] = SLOW,
    redis_url: str | None = None,
    projects: dict[int, pathlib.Path] | None = None,
    progress: Progress = say,
    strict: bool = False,
):
    """Measure every variant at every N (configs at the target N only), then the slow demo.

    redis_url: use this Redis (else a private redis-server on a free port is started).
    projects: {step number: folder} to benchmark another folder (your own) for that step.
    strict: stop at the first cell that fails or loses a message, raising BenchError
    (the notebook wants that; the command line measures everything and reports).
    Returns a Results; nothing is written to disk here (Results.write does that).
    """
    if importlib.util.find_spec("uvicorn") is None:
        skipped = [v.name for v in (*variants, *configs) if v.server == "uvicorn"]
        if skipped:
            progress(
                f"uvicorn is not installed: skipping {', '.join(skipped)}. "
                f"To measure them: pip install '{UVICORN_REQUIREMENT}'"
            )
        variants = [v for v in variants if v.server != "uvicorn"]
        configs = [v for v in configs if v.server != "uvicorn"]
    started_at = time.monotonic()
    rows: list[dict] = []
    slow_rows: list[dict] = []
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": plan.mode,
        "plan": dataclasses.asdict(plan),
        "target": plan.target,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_average_before": _load_average(),
        "client_loop": "uvloop" if _loop_factory() else "asyncio",
        "versions": _versions(),
    }
    with contextlib.ExitStack() as stack:
        redis_pid = None
        if redis_url is None:
            redis = stack.enter_context(RedisServer())
            redis_url, redis_pid = redis.url, redis.process.pid
            progress(f"Started a private redis-server at {redis_url}")
        else:
            progress(f"Using the Redis at {redis_url}")
        meta["redis_version"] = _redis_version(redis_url)
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="workshop-bench-"))
        bench = _Bench(plan, redis_url, redis_pid, scratch, projects or {}, progress)

        measured = [*variants, *configs]
        if measured:
            progress(f"Starting {len(measured)} server variants ...")
            running = bench.start_all(measured)
            stack.callback(lambda: [servers.stop() for servers in running.values()])
            cells = [
                (round_, members, variant)
                for round_ in range(plan.repeat)
                for members in plan.members
                for variant in [*variants, *(configs if members == plan.target_members else ())]
            ]
            measured: dict[tuple[str, int], list[dict]] = {}
            for index, (round_, members, variant) in enumerate(cells, start=1):
                runs = measured.setdefault((variant.name, members), [])
                servers = running[variant.name]
                if not servers.running:
                    servers.stop()
                    try:
                        running[variant.name] = servers = bench.start(variant)
                    except StepServerError as error:
                        row = {**_variant_fields(variant), "members": members, "error": str(error)}
                        runs.append(row)
                        progress(f"({index}/{len(cells)}) {_progress_line(row)}")
                        if strict:
                            raise BenchError(str(error)) from error
                        continue
                row = bench.measure(variant, servers, members, round_)
                runs.append(row)
                progress(f"({index}/{len(cells)}) {_progress_line(row)}")
                if _is_dirty(row):
                    if row.get("error") and servers.log_tail():
                        row["error"] += f"\nServer log:\n{servers.log_tail()}"
                    if strict:
                        raise BenchError(f"{variant.name} at N={members}: {_problem(row)}")
                    servers.stop()  # restarted (fresh, with no backlog) before its next cell
            for servers in running.values():
                servers.stop()
            for (_, members), runs in measured.items():
                row = _median_row(runs)
                if members == plan.target_members:
                    row["meets_target"] = _meets_target(row, plan)
                rows.append(row)

        slow_runs: dict[tuple[str, bool], list[dict]] = {}
        for round_ in range(plan.repeat):
            for variant in slow:
                slow_room = f"slow-{bench.run_id}-{round_}"
                progress(f"Slow handler: {variant.description} ...")
                servers = bench.start(variant, slow_room)
                try:
                    new_rows = bench.measure_slow(variant, servers, slow_room, round_)
                finally:
                    servers.stop()
                for row in new_rows:
                    slow_runs.setdefault((variant.name, row["slow_room_busy"]), []).append(row)
                    state = "busy" if row["slow_room_busy"] else "quiet"
                    progress(
                        f"  slow room {state}: other rooms p50 {row.get('p50_ms')} ms, "
                        f"p99 {row.get('p99_ms')} ms, lost {row.get('lost')}"
                        + (f" ERROR: {row['error']}" if row.get("error") else "")
                    )
                if strict and any(_is_dirty(row) for row in new_rows):
                    bad = next(row for row in new_rows if _is_dirty(row))
                    raise BenchError(f"{variant.name}: {_problem(bad)}")
        slow_rows.extend(_median_row(runs) for runs in slow_runs.values())
    meta["load_average_after"] = _load_average()
    meta["seconds"] = round(time.monotonic() - started_at, 1)
    return Results(meta, rows, slow_rows)


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _redis_version(url: str) -> str | None:
    try:
        return ".".join(map(str, server_version(url)))
    except Exception:  # noqa: BLE001  (only a label in the report)
        return None


__all__ = [
    "Plan", "FULL", "QUICK", "COLUMNS", "SLOW_COLUMNS", "accounts_for", "run_benchmark",
    "run_async",
]  # fmt: skip
