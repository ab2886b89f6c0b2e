"""The command line: python -m workshop {run,test,diff,docs}."""

from __future__ import annotations

import argparse
import sys

from .manifest import ManifestError, get_step, load_steps


def _cmd_run(args) -> int:
    from .serve import serve

    step = get_step(args.step) if args.step else load_steps()[-1]
    return serve(step, port=args.port)


def _cmd_test(args) -> int:
    from .suite import run_suite

    return run_suite(args.pytest_args, workers=args.workers)


def _cmd_diff(args) -> int:
    from .diff_command import show_diff

    return show_diff(get_step(args.from_step), get_step(args.to_step), html=args.html)


def _cmd_docs(args) -> int:
    from .docs import generated_readmes, write_readmes

    if args.check:
        stale = [p for p, text in generated_readmes().items() if p.read_text() != text]
        for path in stale:
            print(f"stale: {path} (run: python -m workshop docs)")
        return 1 if stale else 0
    for path in write_readmes():
        print(f"updated {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workshop",
        description="Run, test and compare the steps of the Django Channels workshop.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve a step at http://127.0.0.1:8000/chat/")
    run.add_argument("step", nargs="?", help="step number or folder (default: the last step)")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(handler=_cmd_run)

    test = commands.add_parser("test", help="run the whole test suite (extra args go to pytest)")
    test.add_argument("--workers", default="2", help="parallel pytest workers (default 2)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(handler=_cmd_test)

    diff = commands.add_parser("diff", help="what changed between two steps")
    diff.add_argument("from_step")
    diff.add_argument("to_step")
    diff.add_argument("--html", metavar="FILE", help="also write a side-by-side HTML view")
    diff.set_defaults(handler=_cmd_diff)

    docs = commands.add_parser("docs", help="regenerate the READMEs' generated sections")
    docs.add_argument("--check", action="store_true", help="only report stale READMEs")
    docs.set_defaults(handler=_cmd_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ManifestError as error:
        print(f"[workshop] {error}", file=sys.stderr)
        return 2
