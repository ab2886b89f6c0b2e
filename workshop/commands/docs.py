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

from ..diffing import step_changes, unified_diff
from ..hints import HINTS, TROUBLESHOOTING_PAGE, as_documented
from ..manifest import PART_TITLES, REPO_ROOT, Step, load_steps

BEGIN = "<!-- begin generated: {name} (python -m workshop docs) -->"
END = "<!-- end generated: {name} -->"


def what_changed_block(steps: list[Step], step: Step) -> str:
    """The file list and diff of a step, as Markdown."""
    changes = step_changes(steps, step)
    if step.number == 1:
        lines = ["Every file is new in this step:", ""]
    else:
        lines = [f"Files added or changed since `{steps[step.number - 2].folder}`:", ""]
    lines += [f"- `{name}` ({change})" for name, change in changes.items()]
    if step.number == 1:
        return "\n".join(lines + ["", *own_folder_start(step)])
    previous = steps[step.number - 2]
    empty = [
        name
        for name, change in changes.items()
        if change != "removed" and not (step.path / name).read_bytes()
    ]
    if empty:
        # An empty file's diff has no hunk, so `patch` never creates it: a student's
        # folder would silently lack it (an empty tests/__init__.py hides every test).
        raise ValueError(
            f"{step.folder}: {', '.join(empty)} is empty, so the diff cannot create it; "
            'give it a one-line docstring ("""What this package is for.""")'
        )
    diff = unified_diff(previous.path, step.path, exclude=("README.md",))
    lines += [
        "",
        "<details><summary>The diff (README.md left out)</summary>",
        "",
        "```diff",
        diff.rstrip("\n"),
        "```",
        "",
        "</details>",
        "",
        *own_folder_steps(previous, step, "requirements.txt" in changes),
    ]
    return "\n".join(lines)


def patch_file_name(step: Step) -> str:
    """What the student saves this step's diff as, next to their folder."""
    return f"step{step.number:02d}.patch"


def own_folder_start(step: Step) -> list[str]:
    """For the first step: how a student starts the one folder they carry along."""
    return [
        "### Building on your own folder",
        "",
        'Typing along? Make your own folder from this step: copy it as "Run it" shows',
        "below, and work in that copy from now on. Each later step's README says how to",
        "bring your folder forward, in the same place as this paragraph.",
    ]


def own_folder_steps(previous: Step, step: Step, requirements_changed: bool) -> list[str]:
    """How a student brings their own folder from the previous step to this one.

    tests/test_type_along.py follows exactly these instructions, from step 01 onwards,
    and compares the folder with each reference step: change them together.
    """
    patch = patch_file_name(step)
    lines = [
        "### Building on your own folder",
        "",
        f"Typing along in your own folder? It should be where `{previous.folder}` is. Bring it",
        "to this step with the diff above:",
        "",
        "1. Put your exercise edits aside first, or the diff will not apply (`Hunk #1 FAILED`).",
        "   In a git repository, `git stash` keeps them (`git stash pop` brings them back);",
        "   without git, copy your folder somewhere else first, then undo them.",
        "2. Copy the diff above (the copy button at the top right of the block) into a new file",
        f"   `{patch}` next to your folder, not inside it.",
        "3. From inside your folder, apply it. Linux and macOS:",
        "",
        "   ```bash",
        f"   patch -p1 < ../{patch}",
        "   ```",
        "",
        "   Windows (PowerShell, with Git installed; your folder need not be a git repository,",
        "   and `--ignore-whitespace` copes with Windows line endings):",
        "",
        "   ```powershell",
        f"   git apply -p1 --ignore-whitespace --verbose ../{patch}",
        "   ```",
        "",
        "   Each file of the list above but README.md is named once (`patching file ...`, or",
        "   `Applied patch ... cleanly.`). `-p1` drops the first part of the paths in the diff",
        f"   (`{step.folder}/`), so the paths are relative to your folder.",
    ]
    if requirements_changed:
        lines += [
            "4. `requirements.txt` changed: install again, with your virtual environment active:",
            "",
            "   ```bash",
            "   pip install -r requirements.txt",
            "   ```",
            "",
            "   Skip this, and the new packages are missing: `ModuleNotFoundError: No module",
            "   named ...`, or `InvalidChannelLayerError: Cannot import BACKEND ...` for the",
            "   channel layer. From the repository,",
            f"   `python3 -m workshop doctor {step.number} --project path/to/your/folder` checks",
            "   the virtualenv you have active.",
        ]
    lines += [
        "",
        "A hunk failed, or you would rather start clean? Copy the reference folder",
        f'`{step.folder}` instead ("Run it" shows how), and carry on there.',
    ]
    return lines


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
