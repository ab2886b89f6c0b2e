"""The benchmark (workshop/bench): its quick mode runs, writes its files, and loses nothing.

Only the shape of the output is checked, and that every message arrived once and in order:
never a time. How fast a step is depends on the machine; that it delivers everything does not.

Notebook 4 (tests/test_notebooks.py runs it, strict: a lost or reordered message fails it)
measures most variants already, at more sizes, step 06's measured variants among them. The
quick run here measures the others, with what the ratios and the recommendation compare
(step 03, step 04, the floor) and one slow-handler variant for the slow table; a test below
checks that the two together measure every variant. Step 12 and its measured variants
(measured only when named) have a quick run of their own, a room of logged-in members.
Other tests check that the measured variants of steps 06 and 12 are what their names say,
and that the page names the command behind each of its tables.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import re
import shlex
import subprocess
import sys

import pytest

from workshop.accounts import prepare_database
from workshop.bench.cli import TABLES
from workshop.bench.load import BenchError, Room, _Tracker
from workshop.bench.report import FILES, Results
from workshop.bench.runner import (
    COLUMNS,
    QUICK,
    SLOW_COLUMNS,
    _median_row,
    accounts_for,
    run_benchmark,
)
from workshop.bench.servers import (
    CONFIGS,
    ON_REQUEST,
    SLOW,
    SWEEP,
    ServerSet,
    Variant,
    project_layer_capacity,
)
from workshop.manifest import REPO_ROOT, get_step
from workshop.redis_server import RedisServer
from workshop.step_server import copy_project

NOTEBOOK_4 = REPO_ROOT / "notebooks" / "04_benchmark.ipynb"
BENCHMARK_PAGE = REPO_ROOT / "docs" / "benchmark.md"
# What the ratios and the recommendation need, then what notebook 4 does not measure.
QUICK_VARIANTS = ("step03", "step04", "floor")
QUICK_CONFIGS = ("step04-uvicorn", "step04-pubsub-uvicorn-x2")
QUICK_SLOW = ("slow-step04-await",)
# Measured only when named: the last step, whose members log in (its own quick run below).
QUICK_ON_REQUEST = tuple(variant.name for variant in ON_REQUEST)
# What a row of docs/benchmark.md says while its figures wait for the next run.
PLACEHOLDER = "to be measured"


def _named(names, variants):
    return [variant for variant in variants if variant.name in names]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, redis_url):
    """`python -m workshop.bench --quick`, once for this module: (exit code, output, folder)."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "workshop.bench", "--quick", "--redis-url", redis_url,
         "--output-dir", str(out), "--variants", ",".join(QUICK_VARIANTS),
         "--configs", ",".join(QUICK_CONFIGS), "--slow", ",".join(QUICK_SLOW)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )  # fmt: skip
    print(done.stdout[-3000:], done.stderr[-3000:])
    return done.returncode, done.stdout + done.stderr, out


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        return reader.fieldnames, list(reader)


@pytest.mark.redis
@pytest.mark.slow
def test_quick_mode_writes_table_csv_json_and_plot(quick_run):
    code, output, out = quick_run
    assert code == 0, output[-4000:]
    for heading in ("Fan-out latency", "Ratios", "Slow handler", "Target:", "Recommended:"):
        assert heading in output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    assert (out / FILES["plot"]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.redis
@pytest.mark.slow
def test_quick_mode_measures_each_variant_asked_for_at_every_size(quick_run):
    _, output, out = quick_run
    header, rows = _read_csv(out / FILES["csv"])
    assert header == list(COLUMNS)
    cells = {(row["variant"], int(row["members"])) for row in rows}
    expected = {(v.name, n) for v in _named(QUICK_VARIANTS, SWEEP) for n in QUICK.members}
    expected |= {(v.name, QUICK.target_members) for v in _named(QUICK_CONFIGS, CONFIGS)}
    assert cells == expected and len(rows) == len(expected)
    for row in rows:
        assert not row["error"], f"{row['variant']} N={row['members']}: {row['error']}"
        for column in ("burst_deliveries_per_s", "p50_ms", "p99_ms", "paced_messages"):
            assert float(row[column]) > 0, f"{row['variant']} N={row['members']}: {column}"
        at_target = int(row["members"]) == QUICK.target_members
        assert row["meets_target"] in (("True", "False") if at_target else ("",))

    slow_header, slow_rows = _read_csv(out / FILES["slow_csv"])
    assert slow_header == list(SLOW_COLUMNS)
    assert {(r["variant"], r["slow_room_busy"]) for r in slow_rows} == {
        (name, busy) for name in QUICK_SLOW for busy in ("False", "True")
    }

    data = json.loads((out / FILES["json"]).read_text(encoding="utf-8"))
    assert data["meta"]["mode"] == "quick"
    assert [r["members"] for r in data["ratios"]] == list(QUICK.members)
    for ratio in data["ratios"]:
        assert ratio["throughput_step04_vs_step03"] and ratio["p99_step04_vs_floor"]
    assert data["recommendation"]["variant"] in {*QUICK_VARIANTS, *QUICK_CONFIGS}


def notebook_4_variants() -> set[str]:
    """The variants notebook 4 measures: the names its code cells pass to measure()."""
    cells = json.loads(NOTEBOOK_4.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    calls = re.findall(r"\bmeasure\(([^)]*)\)", code)
    return {name for call in calls for name in re.findall(r'"([\w-]+)"', call)}


def test_the_quick_run_and_notebook_4_together_measure_every_variant():
    known = {v.name for v in (*SWEEP, *CONFIGS, *SLOW, *ON_REQUEST)}
    in_notebook = notebook_4_variants()
    assert in_notebook <= known, f"notebook 4 names unknown variants: {in_notebook - known}"
    assert len(in_notebook) >= 5, f"notebook 4's measure() calls were not found: {in_notebook}"
    here = {*QUICK_VARIANTS, *QUICK_CONFIGS, *QUICK_SLOW, *QUICK_ON_REQUEST}
    missing = known - in_notebook - here
    assert not missing, f"no test measures {sorted(missing)}: add them to QUICK_* above"


@pytest.mark.redis
@pytest.mark.slow
def test_quick_mode_loses_and_reorders_nothing(quick_run):
    _, _, out = quick_run
    results = Results.load(out / FILES["json"])
    counts = {
        (row["variant"], row.get("members"), row.get("slow_room_busy")): (
            row["lost"],
            row["reordered"],
            row["duplicated"],
        )
        for row in [*results.rows, *results.slow_rows]
    }
    assert counts and all(value == (0, 0, 0) for value in counts.values()), counts
    assert results.problems() == []


@pytest.mark.redis
def test_step12_variants_measure_a_room_of_logged_in_members(redis_url):
    """Step 12 closes a socket without a session (4401), rate-limits each user and sends
    the room's history on joining: every member logs in as one account, and every
    message of the run arrives once, in order, each member sending (the burst across rooms).
    The variants measured only on request, step 06's among them, run here."""
    plan = dataclasses.replace(QUICK, members=(10,))
    said = []
    results = run_benchmark(plan, [], ON_REQUEST, [], redis_url, progress=said.append, strict=True)
    assert {row["variant"] for row in results.rows} == set(QUICK_ON_REQUEST)
    assert any("migrate, an account" in line for line in said), said
    for row in results.rows:
        assert not row.get("error"), row
        assert (row["lost"], row["reordered"], row["duplicated"]) == (0, 0, 0), row
        assert row["rooms_burst_deliveries"] and not row["rooms_burst_lost"], row
        assert row["paced_messages"] and row["p99_ms"] > 0, row


# --- the counting itself, without servers ------------------------------------------------------


class _Frames:
    """A member's socket that receives these frames, then nothing."""

    def __init__(self, frames):
        self.frames = frames

    async def __aiter__(self):
        for frame in self.frames:
            yield frame

    async def close(self):
        pass


def test_the_history_a_joining_member_gets_is_not_counted_as_deliveries():
    """From step 08 a member gets the room's last messages on joining, the load client's own
    among them: they were delivered in an earlier phase, or to an earlier member."""
    ours = {"id": 7, "user": "demo", "message": "p:0:0", "created": "2026-01-01T00:00:00"}
    history = json.dumps({"history": [ours, {**ours, "message": "p:0:1"}], "earlier": 0})

    async def read():
        room = Room("r", [_Frames([history, json.dumps(ours)])], senders=1)
        room.tracker.sent(("p", 0, 0), at=0.0)
        room.tracker.sent(("p", 0, 1), at=0.0)
        await asyncio.sleep(0.01)  # the reader takes both frames
        await room.close()
        return room.tracker.result("p", started=0.0)

    result = asyncio.run(read())
    assert (result.delivered, result.lost, result.duplicated) == (1, 1, 0)


def test_tracker_counts_lost_reordered_and_duplicated_deliveries():
    tracker = _Tracker(members=2)
    for seq in range(3):
        tracker.sent(("p", 0, seq), at=float(seq))
    # member 0 gets 0, 2, 1 (one reordered); member 1 gets 0, 0 (one duplicate), 1; 2 is lost
    for member, seq, at in [(0, 0, 0.1), (0, 2, 2.1), (0, 1, 1.3), (1, 0, 0.2), (1, 0, 0.3),
                            (1, 1, 1.4)]:  # fmt: skip
        tracker.received(member, ("p", 0, seq), at)
    result = tracker.result("p", started=0.0)
    assert (result.messages, result.delivered, result.lost) == (3, 5, 1)
    assert (result.reordered, result.duplicated) == (1, 1)
    # messages 0 and 1 reached both members: latency to the last of them
    assert sorted(round(x, 3) for x in result.latencies) == [0.2, 0.4]
    assert result.percentile(50) == pytest.approx(300)  # interpolated between 200 and 400
    assert result.percentile(100) == pytest.approx(400)


def test_ratios_compare_step04_with_step03_and_the_floor():
    def row(variant, members, throughput, p99):
        return {"variant": variant, "members": members, "burst_deliveries_per_s": throughput,
                "p99_ms": p99, "server_cpu_s_per_1k": 1.0}  # fmt: skip

    results = Results(
        {"plan": {"members": [10]}},
        [row("step03", 10, 1000, 40.0), row("step04", 10, 2000, 20.0), row("floor", 10, 8000, 5.0)],
        [],
    )
    (ratio,) = results.ratios()
    assert ratio["throughput_step04_vs_step03"] == 2.0
    assert ratio["p99_step04_vs_step03"] == 0.5
    assert ratio["throughput_step04_vs_floor"] == 0.25
    assert ratio["p99_step04_vs_floor"] == 4.0


def test_keeping_up_compares_the_last_step_with_the_step_before_and_the_floor():
    def row(variant, throughput, p99, lost=0):
        return {"variant": variant, "members": 200, "burst_deliveries_per_s": throughput,
                "p99_ms": p99, "lost": 0, "rooms_burst_lost": lost}  # fmt: skip

    def measured(*rows):
        return Results({"plan": {"members": [50, 200]}}, list(rows), [])

    before, floor = row("step12", 3000, 900.0), row("floor", 60000, 15.0)
    kept_up = measured(before, floor, row("step13", 9000, 60.0)).keeping_up()
    assert kept_up == {"members": 200, "throughput_vs_before": 3.0, "p99_ms": 60.0,
                       "p99_vs_floor": 4.0, "lost": 0, "met": True}  # fmt: skip
    assert not measured(before, floor, row("step13", 5000, 60.0)).keeping_up()["met"]  # < 2x
    assert not measured(before, floor, row("step13", 9000, 95.0)).keeping_up()["met"]  # > 6x
    assert not measured(before, floor, row("step13", 9000, 60.0, 3)).keeping_up()["met"]
    assert measured(before, row("step13", 9000, 60.0)).keeping_up() is None  # no floor


def test_repeated_runs_report_medians_and_lost_out_of_every_run():
    """Three rounds of one cell: times are the median, losses the sum, and "lost X of Y"
    counts Y over the three rounds too (it once said 26,800 lost of 10,000)."""
    rounds = [
        {"p99_ms": p99, "lost": 0, "rooms_burst_lost": lost, "rooms_burst_deliveries": 10_000}
        for p99, lost in [(120.0, 8_930), (300.0, 8_930), (140.0, 8_940)]
    ]
    row = _median_row(rounds)
    assert row["p99_ms"] == 140.0
    assert row["rooms_burst_lost"] == 26_800
    assert row["rooms_burst_deliveries"] == 30_000
    assert row["repeats"] == 3


@pytest.mark.redis
def test_a_step_on_the_in_memory_layer_is_refused_before_anything_is_measured(tmp_path, redis_url):
    """Measured, step 04 on an in-memory layer gives that layer's numbers under step04's
    name, and fails only where two processes share a room (notebook 4 got that far)."""
    copy = copy_project(get_step(4).path, tmp_path)
    settings = copy / "chatsite" / "settings.py"
    text = settings.read_text(encoding="utf-8")
    backend = re.search(r'"BACKEND": "(channels_redis\.[\w.]+)"', text).group(1)
    settings.write_text(text.replace(backend, "channels.layers.InMemoryChannelLayer"))
    step04 = _named(("step04",), SWEEP)
    said = []
    with pytest.raises(BenchError, match=r"step04 measures step 4's own channel layer") as refused:
        run_benchmark(QUICK, step04, [], [], redis_url, {4: copy}, said.append, strict=True)
    assert "names InMemoryChannelLayer" in str(refused.value)
    assert not [line for line in said if "serves" in line], f"a server was started: {said}"


# --- step 06's measured variants are what their names say ----------------------------------

VARIANTS = {variant.name: variant for variant in (*SWEEP, *CONFIGS, *SLOW, *ON_REQUEST)}

# The start of every probe, run in a copy of the step with a variant's environment. argv[1]:
# the module of the variant's ASGI application; argv[2]: an account to log in as (a step
# with users), or ""; argv[3]: "history" where a member gets the room's history on joining.
PROBE_JOIN = """
import asyncio, importlib, json, sys, threading
application = importlib.import_module(sys.argv[1]).application  # sets Django up
from channels.testing import WebsocketCommunicator

HEADERS = [(b"origin", b"http://127.0.0.1")]
if sys.argv[2]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    client = Client()
    client.force_login(get_user_model().objects.get(username=sys.argv[2]))
    HEADERS.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))

async def join(room="probe"):
    member = WebsocketCommunicator(application, f"/ws/chat/{room}/", headers=HEADERS)
    assert (await member.connect())[0], "the socket was refused"
    if sys.argv[3] == "history":
        assert "history" in json.loads(await member.receive_from(timeout=5))
    return member
"""

# One member in a room, the database thread held busy, one room message (with what step 12's
# handlers read, and the frame already serialised for step12-dispatch-once). Channels'
# dispatch() waits for that thread before every handler; the shortcut does not.
DISPATCH_PROBE = (
    PROBE_JOIN
    + """
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

FRAME = {"id": 1, "user": "probe", "message": "hi", "created": "2026-01-01T00:00:00"}

async def main():
    member = await join()
    started, release = threading.Event(), threading.Event()

    def hold_the_database_thread():
        started.set()
        release.wait(10)

    held = asyncio.ensure_future(sync_to_async(hold_the_database_thread)())  # thread-sensitive
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    message = {"type": "chat.message", **FRAME, "text": json.dumps(FRAME)}
    await get_channel_layer().group_send("chat_probe", message)
    try:
        await member.receive_from(timeout=2)
        print("delivered while the database thread was busy")
    except asyncio.TimeoutError:
        print("waited for the database thread")
    release.set()
    await held

asyncio.run(main())
"""
)

# One member in a room, then Redis stops (SHUTDOWN) under its idle socket: what reaches the page.
IDLE_PROBE = (
    PROBE_JOIN
    + """
import os
import redis

async def main():
    member = await join()
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"]).shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # it went away while answering
    try:
        print("page got", await member.receive_output(timeout=6))
    except asyncio.TimeoutError:
        print("the socket stayed open")

asyncio.run(main())
"""
)


# Three members in a room, one sends a message: the frame each gets, and how many times
# json.dumps() ran while it went round (step 12: 1 per member, or once per message).
SERIALISE_PROBE = (
    PROBE_JOIN
    + """
from unittest import mock

async def main():
    members = [await join() for _ in range(3)]
    sent = json.dumps({"message": "hi"})
    with mock.patch("json.dumps", side_effect=json.dumps) as dumps:
        await members[0].send_to(text_data=sent)
        frames = [json.loads(await member.receive_from(timeout=5)) for member in members]
    assert all(frame == frames[0] for frame in frames), frames
    print("frame keys", list(frames[0]), "json.dumps calls", dumps.call_count)

asyncio.run(main())
"""
)


def _probe(script: str, variant: Variant, redis_url: str, tmp_path) -> str:
    """Run a probe in a copy of the variant's step, prepared and with the environment the
    benchmark serves that variant with; returns what it printed."""
    step = get_step(variant.step)
    copy = copy_project(step.path, tmp_path)
    env = ServerSet(variant, copy, redis_url, tmp_path).env
    accounts = accounts_for(variant.step)
    if accounts:
        prepare_database(copy, env, accounts)
    account = accounts[0].username if accounts else ""
    joining = "history" if step.has("history") else ""
    done = subprocess.run(
        [sys.executable, "-c", script, variant.app.partition(":")[0], account, joining],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


@pytest.mark.redis
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("step06", "waited for the database thread"),
        ("step06-dispatch", "delivered while the database thread was busy"),
        ("step06-dispatch-pubsub", "delivered while the database thread was busy"),
        ("step12", "waited for the database thread"),
        ("step12-dispatch", "delivered while the database thread was busy"),
        ("step12-dispatch-once", "delivered while the database thread was busy"),
        ("step12-dispatch-pubsub", "delivered while the database thread was busy"),
    ],
)
def test_only_the_dispatch_variants_skip_the_database_thread_for_room_messages(
    name, expected, redis_url, tmp_path
):
    assert expected in _probe(DISPATCH_PROBE, VARIANTS[name], redis_url, tmp_path)


@pytest.mark.redis
@pytest.mark.parametrize(("name", "dumps"), [("step12-dispatch", 3), ("step12-dispatch-once", 1)])
def test_the_once_variant_serialises_a_room_message_once_and_sends_the_same_frame(
    name, dumps, redis_url, tmp_path
):
    said = _probe(SERIALISE_PROBE, VARIANTS[name], redis_url, tmp_path)
    assert f"frame keys ['id', 'user', 'message', 'created'] json.dumps calls {dumps}" in said


@pytest.mark.redis
@pytest.mark.parametrize("name", ["step06-dispatch-pubsub", "step12-dispatch-pubsub"])
def test_the_pubsub_variant_closes_an_idle_socket_with_4503_when_redis_stops(name, tmp_path):
    """What step 06 needed on the pub/sub layer, and what the variant measures the cost of:
    that layer only waits for messages, and its layer check is what notices Redis going."""
    variant = VARIANTS[name]
    assert variant.layer == "pubsub" and variant.layer_check_seconds
    with RedisServer() as redis_server:  # its own: the probe stops it
        said = _probe(IDLE_PROBE, variant, redis_server.url, tmp_path)
    assert "page got {'type': 'websocket.close', 'code': 4503}" in said, said


def test_a_variant_names_its_steps_layer_and_capacity(tmp_path):
    """The CSV's description is read from the step's settings: 100 where it names no
    capacity (channels_redis' default), none on a layer without a mailbox."""
    assert "RedisChannelLayer (capacity 100)" in VARIANTS["step05"].description
    step06 = get_step(6).path / "chatsite" / "settings.py"
    assert '"capacity": 1500' in step06.read_text(encoding="utf-8")
    assert "RedisChannelLayer (capacity 1,500)" in VARIANTS["step06"].description
    assert "capacity" not in VARIANTS["step06-dispatch-pubsub"].description
    copy = copy_project(get_step(6).path, tmp_path)
    settings = copy / "chatsite" / "settings.py"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(re.sub(r'\n\s*"capacity": 1500,', "", text), encoding="utf-8")
    assert project_layer_capacity(copy) == 100
    settings.write_text(text.replace("core.RedisChannelLayer", "pubsub.RedisPubSubChannelLayer"))
    assert project_layer_capacity(copy) is None


# --- the page and the command name the same commands ---------------------------------------


def test_bench_help_and_the_page_name_the_command_behind_each_table():
    done = subprocess.run(
        [sys.executable, "-m", "workshop.bench", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    page = BENCHMARK_PAGE.read_text(encoding="utf-8")
    for _, command in TABLES:
        assert command in done.stdout, f"bench --help does not name {command}"
        assert command in page, f"docs/benchmark.md does not name {command}"
        words = shlex.split(command)
        for option in ("--variants", "--configs"):
            if option in words:
                names = words[words.index(option) + 1].split(",")
                unknown = set(names) - set(VARIANTS)
                assert not unknown, f"{command} names unknown variants {unknown}"
    commands = [command for _, command in TABLES]
    rows = [line for line in page.splitlines() if line.startswith("|")]
    for line in [row for row in rows if PLACEHOLDER in row]:
        assert any(command in line for command in commands), (
            f"a row of docs/benchmark.md waits for figures without naming the command that "
            f"measures them: {line}"
        )
