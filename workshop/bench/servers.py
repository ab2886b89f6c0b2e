"""What the benchmark measures: variants (step, channel layer, server, processes), started here.

A variant's step is served from a scratch copy of its folder, with the benchmark's settings
module in front of the step's own (overrides/bench_settings.py swaps the channel layer) and,
for the slow-handler demonstration, an ASGI module that subclasses the step's consumer
(overrides/bench_slow_asgi.py); for the measured variants of steps 06 and 12, the speed-ups a
later step teaches, one that gives the consumer a dispatch() shortcut and, on the pub/sub
layer, the layer check that layer needs, and on step 12 a room message serialised once
(overrides/bench_dispatch_asgi.py). The step folders are never edited. A step with users
is served from a migrated copy with one account, logged in once (runner.py).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import re
import sys

from ..accounts import Account, cookie_header, session_for
from ..manifest import get_step
from ..step_server import MACHINE_SENDER_LIMITS, StepServer, StepServerError, project_env

OVERRIDES_DIR = pathlib.Path(__file__).resolve().parent / "overrides"
FLOOR_SCRIPT = pathlib.Path(__file__).resolve().parent / "floor.py"

LAYER_NAMES = {
    "memory": "InMemoryChannelLayer",
    "pubsub": "RedisPubSubChannelLayer",
    "none": "-",
}
# The BACKEND inside CHANNEL_LAYERS (TEMPLATES names a BACKEND too, earlier in the file).
STEP_LAYER = re.compile(r'CHANNEL_LAYERS\s*=\s*\{.*?"BACKEND":\s*"[\w.]+\.(\w+)"', re.S)
# The capacity inside CHANNEL_LAYERS, up to the end of that dict (a line starting with "}").
STEP_CAPACITY = re.compile(
    r'CHANNEL_LAYERS\s*=\s*\{(?:(?!^\}).)*?"capacity":\s*([\d_]+)', re.S | re.M
)
# channels_redis' default capacity: each process's mailbox holds this many messages.
DEFAULT_CAPACITY = 100


def step_layer_name(step: int) -> str:
    """The channel layer class a step's own settings.py names."""
    return project_layer_name(get_step(step).path)


def project_layer_name(project_dir: pathlib.Path) -> str:
    """The channel layer class a project's chatsite/settings.py names ("-" for none)."""
    found = STEP_LAYER.search(_settings_text(project_dir))
    return found.group(1) if found else "-"


def project_layer_capacity(project_dir: pathlib.Path) -> int | None:
    """The capacity of a project's RedisChannelLayer (channels_redis' 100 when it names
    none); None for another layer, which has no mailbox to fill."""
    if project_layer_name(project_dir) != "RedisChannelLayer":
        return None
    found = STEP_CAPACITY.search(_settings_text(project_dir))
    return int(found.group(1)) if found else DEFAULT_CAPACITY


def _settings_text(project_dir: pathlib.Path) -> str:
    settings = pathlib.Path(project_dir) / "chatsite" / "settings.py"
    return settings.read_text(encoding="utf-8", errors="replace")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of serving the chat, e.g. step 04 on the pub/sub layer under two uvicorns."""

    name: str
    step: int | None  # manifest step number; None for the floor
    layer: str = "step"  # step (its own Redis layer), memory, pubsub; "none" for the floor
    server: str = "daphne"  # daphne, uvicorn, floor
    processes: int = 1
    slow_mode: str | None = None  # the slow-handler demonstration: "sleep" or "await"
    # True: room messages skip Channels' dispatch() and its database clean-up before every
    # handler (the shortcut step 06 shipped until the lesson steps kept Channels' defaults).
    dispatch_shortcut: bool = False
    # Seconds between each consumer's check that Redis still answers (0: none): what the
    # pub/sub layer needs to notice a dead Redis on an idle socket, and what it costs.
    layer_check_seconds: float = 0
    # True (with the shortcut): a room message goes into the group as its frame, already
    # JSON, and each member sends that text (json.dumps once per message, not per member).
    serialise_once: bool = False

    @property
    def consumer(self) -> str:
        if self.step is None:
            return "-"
        return "async" if get_step(self.step).has("async") else "sync"

    @property
    def layer_name(self) -> str:
        return step_layer_name(self.step) if self.layer == "step" else LAYER_NAMES[self.layer]

    @property
    def capacity(self) -> int | None:
        """The capacity of the step's own RedisChannelLayer; None on any other layer."""
        if self.layer != "step" or self.step is None:
            return None
        return project_layer_capacity(get_step(self.step).path)

    @property
    def app(self) -> str:
        if self.slow_mode:
            return "bench_slow_asgi:application"
        if self.dispatch_shortcut or self.layer_check_seconds or self.serialise_once:
            return "bench_dispatch_asgi:application"
        return "chatsite.asgi:application"

    @property
    def description(self) -> str:
        if self.step is None:
            return "floor: plain asyncio + websockets broadcast, no Django"
        layer = self.layer_name
        if self.capacity is not None:
            layer += f" (capacity {self.capacity:,})"
        where = f"{self.processes} x {self.server}"
        text = f"step {self.step:02d} {self.consumer} consumer, {layer}, {where}"
        if self.slow_mode:
            text += f", slow room: {self.slow_mode}"
        if self.dispatch_shortcut:
            text += ", dispatch() shortcut for room messages"
        if self.serialise_once:
            text += ", each room message serialised once"
        if self.layer_check_seconds:
            text += f", layer check every {self.layer_check_seconds:g} s"
        return text


# Sync against async, the layers, and the steps, at every N.
SWEEP = (
    Variant("step03", 3),
    Variant("step04", 4),
    Variant("step04-memory", 4, layer="memory"),
    Variant("step04-pubsub", 4, layer="pubsub"),
    # Before and after the burst fix: step 05's mailbox holds 100 messages, step 06's 1,500.
    Variant("step05", 5),
    Variant("step06", 6),
    Variant("floor", None, layer="none", server="floor"),
)
# At the target N only: the last step against the step before it (the keeping-up step's
# comparison), and servers and process counts.
CONFIGS = (
    Variant("step12", 12),
    Variant("step13", 13),
    Variant("step04-uvicorn", 4, server="uvicorn"),
    Variant("step04-x2", 4, processes=2),
    Variant("step04-pubsub-x2", 4, layer="pubsub", processes=2),
    Variant("step04-pubsub-uvicorn", 4, layer="pubsub", server="uvicorn"),
    Variant("step04-pubsub-uvicorn-x2", 4, layer="pubsub", server="uvicorn", processes=2),
)
# At the target N, and only when named (--configs): the keeping-up step's changes one at a
# time, built around step 12 (the dispatch() shortcut; then also the pub/sub layer with
# the layer check it needs; a room message serialised once, its second exercise), and the
# same two around step 06, which shipped them before the lesson steps kept Channels'
# defaults.
ON_REQUEST = (
    Variant("step12-dispatch", 12, dispatch_shortcut=True),
    Variant(
        "step12-dispatch-pubsub", 12, layer="pubsub", dispatch_shortcut=True, layer_check_seconds=2
    ),
    Variant("step12-dispatch-once", 12, dispatch_shortcut=True, serialise_once=True),
    Variant("step06-dispatch", 6, dispatch_shortcut=True),
    Variant(
        "step06-dispatch-pubsub", 6, layer="pubsub", dispatch_shortcut=True, layer_check_seconds=2
    ),
)
# One room whose handler takes 100 ms, and what it does to the other rooms.
SLOW = (
    Variant("slow-step03-sleep", 3, slow_mode="sleep"),
    Variant("slow-step04-await", 4, slow_mode="await"),
    Variant("slow-step04-sleep", 4, slow_mode="sleep"),
)


class BenchServer(StepServer):
    """One server process: Daphne or uvicorn serving a step copy, or the floor script."""

    def __init__(
        self,
        project_dir: pathlib.Path,
        env: dict[str, str],
        variant: Variant,
        accounts: tuple[Account, ...] = (),
    ):
        super().__init__(project_dir, env, accounts=accounts)
        self.variant = variant
        self.log_path = self.project_dir.parent / f"{variant.server}-{variant.name}-{self.port}.log"

    def command(self) -> list[str]:
        port, app = str(self.port), self.variant.app
        if self.variant.server == "floor":
            return [sys.executable, str(FLOOR_SCRIPT), "--port", port]
        if self.variant.server == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port,
                "--no-access-log", "--log-level", "warning", "--lifespan", "off",
            ]  # fmt: skip
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", port, app]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (None if it cannot be read)."""
    try:
        import psutil
    except ImportError:
        return _proc_cpu_seconds(pid)
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerSet:
    """The processes serving one variant, all sharing one Redis."""

    def __init__(
        self,
        variant: Variant,
        project_dir: pathlib.Path | None,
        redis_url: str,
        scratch: pathlib.Path,
        slow_room: str = "slow",
        accounts: tuple[Account, ...] = (),
    ):
        self.variant = variant
        self.servers: list[BenchServer] = []
        # On a step with users: the account in the copy's database that every member is,
        # and the Cookie header every socket sends once start() has logged it in.
        self.accounts = accounts
        self.cookie: str | None = None
        if project_dir is None:  # the floor has no project: give it a folder for its log
            project_dir = scratch / "floor" / "floor"
            project_dir.mkdir(parents=True, exist_ok=True)
        self.project_dir = project_dir
        self.env = project_env(
            redis_url,
            **MACHINE_SENDER_LIMITS,  # one machine sends for every member: see bench's output
            DJANGO_SETTINGS_MODULE="bench_settings",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(OVERRIDES_DIR), os.environ.get("PYTHONPATH")])
            ),
            BENCH_LAYER=variant.layer if variant.layer != "none" else "step",
            BENCH_SLOW_MODE=variant.slow_mode or "",
            BENCH_LAYER_CHECK_SECONDS=f"{variant.layer_check_seconds:g}"
            if variant.layer_check_seconds
            else "",
            BENCH_SLOW_ROOM=slow_room,
            BENCH_SERIALISE_ONCE="1" if variant.serialise_once else "",
        )

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def start(self, timeout: float = 60.0) -> ServerSet:
        """Start every process at once; raise StepServerError if one does not serve."""
        self.servers = [
            BenchServer(self.project_dir, self.env, self.variant, self.accounts)
            for _ in range(self.variant.processes)
        ]
        with concurrent.futures.ThreadPoolExecutor(len(self.servers)) as pool:
            futures = [pool.submit(server.start, timeout) for server in self.servers]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]
        # Logged in once, through the first process's login page: the session is in the
        # copy's database, so the same cookie opens a socket on every process.
        try:
            self.cookie = cookie_header(session_for(self.servers[0]))
        except Exception:
            self.stop()
            raise
        return self

    def cpu_seconds(self) -> float | None:
        values = [cpu_seconds(server.process.pid) for server in self.servers if server.process]
        return None if not values or None in values else sum(values)

    @property
    def running(self) -> bool:
        return bool(self.servers) and all(server.running for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def log_tail(self, characters: int = 1500) -> str:
        return "\n".join(server.log_text()[-characters:] for server in self.servers).strip()


__all__ = [
    "SWEEP",
    "CONFIGS",
    "ON_REQUEST",
    "SLOW",
    "Variant",
    "ServerSet",
    "StepServerError",
    "cpu_seconds",
]
