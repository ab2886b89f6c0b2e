"""The generated parts of the Markdown pages, each from its one source.

Prose is written by hand; anything that restates something the repository already
says is generated between marker comments, so it cannot drift:

  README.md                 "steps"            the step table, from steps.toml
  each step's README.md     "what-changed"     the file list and diff, from the folders
  docs/troubleshooting.md   "troubleshooting"  the table, from workshop/hints.py

`python -m workshop docs` rewrites them; tests/test_step_diffs.py fails when a page
is stale.
"""

from __future__ import annotations

import pathlib
import re

from .diffing import step_changes, unified_diff
from .hints import HINTS, TROUBLESHOOTING_PAGE, as_documented
from .manifest import PART_TITLES, REPO_ROOT, Step, load_steps

BEGIN = "<!-- begin generated: {name} (python -m workshop docs) -->"
END = "<!-- end generated: {name} -->"


def what_changed_block(steps: list[Step], step: Step) -> str:
    """The file list and diff of a step, as Markdown."""
    changes = step_changes(steps, step)
    if step.number == 1:
        lines = ["Every file is new in this step:", ""]
    else:
        previous = steps[step.number - 2]
        lines = [f"Files added or changed since `{previous.folder}`:", ""]
    lines += [f"- `{name}` ({change})" for name, change in changes.items()]
    if step.number > 1:
        diff = unified_diff(steps[step.number - 2].path, step.path, exclude=("README.md",))
        lines += [
            "",
            "<details><summary>The diff (README.md left out)</summary>",
            "",
            "```diff",
            diff.rstrip("\n"),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(lines)


def _duration(minutes: int) -> str:
    return f"{minutes} minutes, {minutes // 60} h {minutes % 60:02d} min"


def step_table_block(steps: list[Step]) -> str:
    """The README's table of steps: one table per part, each with its own minutes."""
    lines = []
    for part, title in PART_TITLES.items():
        in_part = [step for step in steps if step.part == part]
        if not in_part:
            continue
        if lines:
            lines.append("")
        lines += [
            f"**Part {part}: {title}**",
            "",
            "| # | Folder | What you build | Teach | Exercise |",
            "|---|---|---|---|---|",
        ]
        for step in in_part:
            lines.append(
                f"| {step.number} | [`{step.folder}`]({step.folder}/README.md) | {step.title} "
                f"| {step.teach} min | {step.exercise} min |"
            )
        lines += ["", f"Part {part}: {_duration(sum(step.minutes for step in in_part))}."]
    total = sum(step.minutes for step in steps)
    lines += ["", f"Total: {_duration(total)} without breaks."]
    return "\n".join(lines)


def _cell(markdown: str) -> str:
    return markdown.replace("|", "\\|")  # a bare | would end the table cell


def troubleshooting_table_block() -> str:
    """The troubleshooting table: one row per hint, named and anchored by its key, so that
    `workshop check` can point at the row it took a hint from."""
    lines = ["| row | you see | why | fix |", "|---|---|---|---|"]
    for hint in HINTS:
        why, fix = as_documented(hint)
        name = f'<a id="{hint.key}"></a>`{hint.key}`'
        lines.append(f"| {name} | {_cell(hint.you_see)} | {_cell(why)} | {_cell(fix)} |")
    return "\n".join(lines)


def replace_block(text: str, name: str, content: str) -> str:
    """Put content between the named markers in text; raise if the markers are missing."""
    pattern = re.compile(
        re.escape(BEGIN.format(name=name)) + r"\n(?:.*?\n)?" + re.escape(END.format(name=name)),
        re.DOTALL,
    )
    replacement = f"{BEGIN.format(name=name)}\n{content}\n{END.format(name=name)}"
    if not pattern.search(text):
        raise ValueError(f"markers for {name!r} not found; add these two lines:\n{replacement}")
    return pattern.sub(lambda _: replacement, text, count=1)


def generated_readmes() -> dict[pathlib.Path, str]:
    """Every README with its generated blocks brought up to date."""
    steps = load_steps()
    updated = {}
    top = REPO_ROOT / "README.md"
    updated[top] = replace_block(top.read_text(encoding="utf-8"), "steps", step_table_block(steps))
    trouble = REPO_ROOT / TROUBLESHOOTING_PAGE
    updated[trouble] = replace_block(
        trouble.read_text(encoding="utf-8"), "troubleshooting", troubleshooting_table_block()
    )
    for step in steps:
        readme = step.path / "README.md"
        updated[readme] = replace_block(
            readme.read_text(encoding="utf-8"), "what-changed", what_changed_block(steps, step)
        )
    return updated


def write_readmes() -> list[pathlib.Path]:
    """Rewrite the READMEs whose generated blocks are stale; return those paths."""
    written = []
    for path, text in generated_readmes().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
