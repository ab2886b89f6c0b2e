"""`python -m workshop bench`: measure fan-out latency and throughput of the steps.

Registered in workshop/cli.py with add_parser(commands); also runs alone as
`python -m workshop.bench`.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

from ..manifest import REPO_ROOT

DEFAULT_OUTPUT = REPO_ROOT / "bench-results"

# The tables of docs/benchmark.md and the command that measures each. `bench --help` lists
# them, and tests/test_bench.py checks that the page names the same commands.
TABLES = (
    (
        "every table of docs/benchmark.md but the keeping-up step's and the last (about half "
        "an hour on 2 cores)",
        "python -m workshop bench --repeat 3",
    ),
    (
        "the keeping-up step: step 12, its changes one at a time, step 13, at 200 members",
        "python -m workshop bench --members 200 --seconds 30 --variants floor --configs "
        "step12,step12-dispatch,step12-dispatch-pubsub,step13 --slow none --repeat 3",
    ),
    (
        "the last step through nginx (docs/benchmark.md, 'Through nginx')",
        "python -m workshop bench-production --repeat 3",
    ),
)


def epilog() -> str:
    lines = ["The figures in docs/benchmark.md, and the command that measures each:", ""]
    for what, command in TABLES:
        lines += [f"  {what}:", f"    {command}"]
    return "\n".join(lines)


def _members(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give room sizes like 1,10,50,200") from None
    if not values or min(values) < 1 or max(values) > 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: room sizes from 1 to 1000")
    return values


def _project(text: str) -> tuple[int, pathlib.Path]:
    step, _, folder = text.partition("=")
    if not step.strip().isdigit() or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: expected STEP=FOLDER, e.g. 4=~/my_step04")
    return int(step), pathlib.Path(folder).expanduser().resolve()


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .servers import CONFIGS, ON_REQUEST, SLOW, SWEEP

    parser.add_argument(
        "--quick",
        action="store_true",
        help="every variant, N=1,10, about a second of load each (for the test suite)",
    )
    parser.add_argument(
        "--members",
        type=_members,
        metavar="N,N,...",
        help="room sizes to measure (default 1,10,50,200; quick: 1,10)",
    )
    parser.add_argument("--rate", type=float, help="messages per second into the room (default 20)")
    parser.add_argument(
        "--seconds", type=float, help="length of the paced phase per cell (default 6; quick 0.5)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="measure every cell this many times, interleaved, and report the medians "
        "(default 1; 3 for figures you publish)",
    )
    parser.add_argument(
        "--variants",
        type=_names,
        metavar="NAME,...",
        help=f"sweep variants (default all: {', '.join(v.name for v in SWEEP)})",
    )
    parser.add_argument(
        "--configs",
        type=_names,
        metavar="NAME,...",
        help="the measured variants of steps 06 and 12 and the server configurations, "
        "measured at the largest N "
        f"(default: {', '.join(v.name for v in CONFIGS)}; 'none' for none; "
        f"only when named: {', '.join(v.name for v in ON_REQUEST)})",
    )
    parser.add_argument(
        "--slow",
        type=_names,
        metavar="NAME,...",
        help=f"slow-handler variants (default all: {', '.join(v.name for v in SLOW)}; "
        "'none' for none)",
    )
    parser.add_argument(
        "--project",
        type=_project,
        action="append",
        default=[],
        metavar="STEP=FOLDER",
        help="benchmark your own folder for that step, e.g. --project 4=~/my_step04",
    )
    parser.add_argument(
        "--redis-url", help="use this Redis (default: start a private redis-server)"
    )
    parser.add_argument(
        "--output-dir",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help="where the CSV, JSON and plot go (default: bench-results/)",
    )
    parser.set_defaults(handler=run)
    return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `bench` command to the workshop's command line."""
    parser = subparsers.add_parser(
        "bench",
        help="measure fan-out latency and throughput: sync vs async, layers, servers",
        description=__doc__.splitlines()[0],
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return configure(parser)


def _choose(names, available, what, on_request=()):
    """The variants named (all of `available` when none are; `on_request` only by name)."""
    if names is None:
        return tuple(available)
    if names == ["none"]:
        return ()
    known = {variant.name: variant for variant in (*available, *on_request)}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(
            f"[bench] unknown {what}: {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return tuple(known[name] for name in names)


def run(args) -> int:
    from .load import BenchError
    from .runner import FULL, QUICK, run_benchmark
    from .servers import CONFIGS, ON_REQUEST, SLOW, SWEEP

    plan = QUICK if args.quick else FULL
    changes = {}
    if args.members:
        changes["members"] = args.members
    if args.rate:
        changes["rate"] = args.rate
    if args.seconds:
        changes["paced_seconds"] = args.seconds
    if args.repeat:
        changes["repeat"] = max(1, min(args.repeat, 10))
    plan = dataclasses.replace(plan, **changes)
    print(
        "[bench] The chat's per-user limits are raised for every server (CHAT_MESSAGES_PER_"
        "SECOND, CHAT_MESSAGE_BURST, CHAT_JOBS_PER_USER): one machine acts for every member."
    )
    try:
        results = run_benchmark(
            plan,
            variants=_choose(args.variants, SWEEP, "variant"),
            configs=_choose(args.configs, CONFIGS, "configuration", ON_REQUEST),
            slow=_choose(args.slow, SLOW, "slow-handler variant"),
            redis_url=args.redis_url,
            projects=dict(args.project),
        )
    except BenchError as error:
        print(f"[bench] {error}", file=sys.stderr)
        return 1
    print()
    print(results.report())
    paths = results.write(args.output_dir)
    print()
    for path in paths.values():
        print(f"[bench] wrote {path}")
    print(f"[bench] {results.meta['seconds']:.0f} s in all.")
    return 1 if any(row.get("error") for row in [*results.rows, *results.slow_rows]) else 0


def main(argv: list[str] | None = None) -> int:
    parser = configure(
        argparse.ArgumentParser(
            prog="python -m workshop.bench",
            epilog=epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    args = parser.parse_args(argv)
    return args.handler(args)
