"""`python -m workshop diff FROM TO`: the instructor's view of what a step changed.

`python -m workshop diff --budget`: every step's lesson lines against its teaching minutes.
"""

from __future__ import annotations

import difflib
import os
import pathlib
import sys

from ..diffing import changed_files, project_files, unified_diff
from ..lesson_budget import budget_table, budgets
from ..manifest import Step, load_steps

_COLOURS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
_RESET = "\033[0m"


def _use_colour() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def colourise(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        colour = None if line.startswith(("+++", "---")) else _COLOURS.get(line[:1])
        lines.append(f"{colour}{line}{_RESET}" if colour else line)
    return "\n".join(lines)


README = "README.md"


def code_first(changes: dict[str, str], with_readme: bool) -> dict[str, str]:
    """The changed files in the order shown: code first, then README.md if asked for.

    A step's README changes far more than its code (most of `diff 2 3` would be prose),
    so the code comes first and the README only with --readme.
    """
    shown = {name: change for name, change in changes.items() if name != README}
    if with_readme and README in changes:
        shown[README] = changes[README]
    return shown


def write_html(before: Step, after: Step, path: pathlib.Path, with_readme: bool = False) -> None:
    """A self-contained side-by-side HTML page (difflib.HtmlDiff), one table per file."""
    old, new = project_files(before.path), project_files(after.path)
    maker = difflib.HtmlDiff(wrapcolumn=90)
    tables = []
    changes = code_first(changed_files(before.path, after.path), with_readme)
    for name, change in changes.items():
        old_lines = old[name].read_text().splitlines() if name in old else []
        new_lines = new[name].read_text().splitlines() if name in new else []
        table = maker.make_table(
            old_lines, new_lines, f"{before.folder}/{name}", f"{after.folder}/{name} ({change})",
            context=True, numlines=3,
        )  # fmt: skip
        tables.append(f"<h2>{name} ({change})</h2>\n{table}")
    page = maker.make_file([], [], "", "").replace(
        "<body>", f"<body>\n<h1>{before.folder} &rarr; {after.folder}</h1>\n" + "\n".join(tables)
    )
    pathlib.Path(path).write_text(page, encoding="utf-8")


def show_diff(before: Step, after: Step, html: str | None = None, with_readme: bool = False) -> int:
    changes = changed_files(before.path, after.path)
    print(f"{before.folder} -> {after.folder}: {len(changes)} files")
    for name, change in changes.items():
        note = "  (its diff: add --readme)" if name == README and not with_readme else ""
        print(f"  {change:8} {name}{note}")
    print()
    shown = code_first(changes, with_readme)
    # One diff per file, in the order shown; each is exactly what `unified_diff` gives.
    diff = "".join(
        unified_diff(before.path, after.path, exclude=tuple(set(changes) - {name}))
        for name in shown
    )
    print(colourise(diff) if _use_colour() else diff)
    if html:
        write_html(before, after, pathlib.Path(html), with_readme)
        print(f"Side-by-side view written to {html}")
    return 0


def show_budget() -> int:
    """Print the lesson budget of every step; 1 when a step is over it."""
    rows = budgets(load_steps())
    print(budget_table(rows))
    problems = [problem for row in rows for problem in row.problems()]
    for problem in problems:
        print(problem)
    return 1 if problems else 0
