"""The command line: python -m workshop COMMAND (run, test, diff, docs, doctor, check, ...)."""

from __future__ import annotations

import argparse
import pathlib
import sys

from .manifest import ManifestError, get_step, load_steps


def _cmd_run(args) -> int:
    from .commands.run import serve, serve_production

    if args.production:
        if args.step:
            print("[workshop] --production serves the last step; leave out the step.")
            return 2
        return serve_production(load_steps()[-1], port=args.port)
    step = get_step(args.step) if args.step else load_steps()[-1]
    return serve(step, port=args.port)


def _cmd_test(args) -> int:
    from .commands.test import run_tests

    return run_tests(args)


def _cmd_diff(args) -> int:
    from .commands.diff import show_budget, show_diff

    if args.budget:
        return show_budget()
    if not (args.from_step and args.to_step):
        print("[workshop] diff needs two steps (diff 2 3), or --budget", file=sys.stderr)
        return 2
    return show_diff(
        get_step(args.from_step), get_step(args.to_step), html=args.html, with_readme=args.readme
    )


def _cmd_docs(args) -> int:
    from .commands.docs import generated_readmes, write_readmes

    if args.check:
        stale = [p for p, text in generated_readmes().items() if p.read_text() != text]
        for path in stale:
            print(f"stale: {path} (run: python -m workshop docs)")
        return 1 if stale else 0
    for path in write_readmes():
        print(f"updated {path}")
    return 0


def _step_for(step_arg: str | None, project: str | None):
    """The step named, else the one whose folder name the project has, else the last."""
    if step_arg:
        return get_step(step_arg)
    if project:
        try:
            return get_step(pathlib.Path(project).resolve().name)
        except ManifestError:
            pass
    return load_steps()[-1]


def _cmd_lock(args) -> int:
    from .commands.lock import write_lock

    return write_lock()


def _cmd_doctor(args) -> int:
    from .commands.doctor import run_doctor

    step = _step_for(args.step, args.project)
    return run_doctor(
        step,
        args.project,
        port=args.port,
        redis_url=args.redis_url,
        for_tests=args.tests,
        python=args.python,
    )


def _cmd_check(args) -> int:
    from .commands.check import run_check

    return run_check(get_step(args.step), args.path, full=args.full)


def _cmd_notebooks(args) -> int:
    import subprocess

    from .manifest import REPO_ROOT

    # Jupyter is installed into .venv with everything else; its kernel is this Python.
    return subprocess.call([sys.executable, "-m", "jupyterlab", str(REPO_ROOT / "notebooks")])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workshop",
        description="Run, test and compare the steps of the Django Channels workshop.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve a step at http://127.0.0.1:8000/chat/")
    run.add_argument("step", nargs="?", help="step number or folder (default: the last step)")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument(
        "--production",
        action="store_true",
        help="the last step behind nginx, two Daphne processes, DEBUG off (docs/production.md)",
    )
    run.set_defaults(handler=_cmd_run)

    test = commands.add_parser("test", help="run the whole test suite (extra args go to pytest)")
    test.add_argument("--workers", help="parallel pytest workers (default 3)")
    which = test.add_mutually_exclusive_group()
    which.add_argument(
        "--step",
        action="append",
        metavar="N",
        help="only what concerns step N: its acceptance tests, diff, README, own suite "
        "(repeatable)",
    )
    which.add_argument(
        "--changed",
        action="store_true",
        help="only the steps (and test files) that differ from main; the whole suite "
        "when the tooling changed",
    )
    which.add_argument(
        "--python",
        action="append",
        metavar="X.Y",
        help="install the last step on Python X.Y as a student would and run a handful of "
        "its tests with it (repeatable)",
    )
    which.add_argument(
        "--latest",
        action="store_true",
        help="the last step's tests with its packages at their newest releases, on Python "
        "3.13 (outside CI); prints the versions used",
    )
    test.add_argument("--base", default="main", help="the branch --changed compares with")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(handler=_cmd_test)

    diff = commands.add_parser("diff", help="what changed between two steps")
    diff.add_argument("from_step", nargs="?")
    diff.add_argument("to_step", nargs="?")
    diff.add_argument("--html", metavar="FILE", help="also write a side-by-side HTML view")
    diff.add_argument(
        "--readme", action="store_true", help="show README.md's changes too (after the code)"
    )
    diff.add_argument(
        "--budget",
        action="store_true",
        help="instead: every step's lesson lines against its teaching minutes (exit 1 if a "
        "step is over)",
    )
    diff.set_defaults(handler=_cmd_diff)

    docs = commands.add_parser("docs", help="regenerate the READMEs' generated sections")
    docs.add_argument("--check", action="store_true", help="only report stale READMEs")
    docs.set_defaults(handler=_cmd_docs)

    doctor = commands.add_parser(
        "doctor", help="is this machine ready for a step? one line per check, each with its fix"
    )
    doctor.add_argument("step", nargs="?", help="step number or folder (default: the last step)")
    doctor.add_argument("--project", metavar="PATH", help="check your own project folder")
    doctor.add_argument(
        "--python",
        metavar="PATH",
        help="the python you run your project with (default: the active virtualenv's; with "
        "--project, a .venv in it or the python on PATH)",
    )
    doctor.add_argument("--port", type=int, default=8000, help="the port to serve on (8000)")
    doctor.add_argument("--redis-url", help="the Redis to try (default: $REDIS_URL or local)")
    doctor.add_argument(
        "--tests", action="store_true", help="also require what the tests need (a browser)"
    )
    doctor.set_defaults(handler=_cmd_doctor)

    check = commands.add_parser(
        "check", help="run a step's acceptance tests on your own folder, with hints"
    )
    check.add_argument("step", help="the step your folder should match (e.g. 3)")
    check.add_argument("path", nargs="?", help="your project folder (default: the reference)")
    check.add_argument(
        "--full",
        action="store_true",
        help="every test of the step, not only those of its usual mistakes (minutes)",
    )
    check.set_defaults(handler=_cmd_check)

    from .commands.slides import register as register_slides

    # python -m workshop slides [--open] [--pdf FILE]: build the deck (slides/README.md)
    register_slides(commands)

    from .bench.cli import add_parser as add_bench_parser

    # python -m workshop bench [--quick]: fan-out latency and throughput per step
    add_bench_parser(commands)

    from .production_bench import add_parser as add_production_bench_parser

    # python -m workshop bench-production: the same loads, direct and through nginx
    add_production_bench_parser(commands)

    lock = commands.add_parser(
        "lock", help="write constraints.txt: every package at one version (maintainers)"
    )
    lock.set_defaults(handler=_cmd_lock)

    notebooks = commands.add_parser("notebooks", help="open the notebooks in JupyterLab")
    notebooks.set_defaults(handler=_cmd_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["test"]:
        # `test --durations=20 -k redis`: options pytest knows and we do not go to pytest.
        args, unknown = parser.parse_known_args(argv)
        args.pytest_args = [*unknown, *args.pytest_args]
    else:
        args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ManifestError as error:
        print(f"[workshop] {error}", file=sys.stderr)
        return 2
