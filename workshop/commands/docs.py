"""The generated parts of the Markdown pages, each from its one source.

Prose is written by hand; anything that restates something the repository already
says is generated between marker comments, so it cannot drift:

  README.md                 "steps"            the step table, from steps.toml
  each step's README.md     "what-changed"     the files to type and to copy, the lesson
                                               lines, the diffs and the type-along
                                               checklist, from the folders and steps.toml
  CONTRIBUTING.md           "lesson-budget"    each step's lesson lines and minutes
  docs/troubleshooting.md   "troubleshooting"  the table, from workshop/hints.py

`python -m workshop docs` rewrites them; tests/test_step_diffs.py fails when a page
is stale.
"""

from __future__ import annotations

import pathlib
import re
import textwrap

from ..diffing import step_changes, unified_diff
from ..hints import HINTS, TROUBLESHOOTING_PAGE, as_documented
from ..lesson_budget import (
    LINES_PER_MINUTE,
    README,
    ChangedFile,
    budgets,
    changes_code,
    is_migration,
    processes_running,
    step_budget,
    step_files,
    writes_its_tests,
)
from ..manifest import PART_TITLES, REPO_ROOT, Step, load_steps

BEGIN = "<!-- begin generated: {name} (python -m workshop docs) -->"
END = "<!-- end generated: {name} -->"

# The commands of the type-along checklist that are the same on every platform.
INSTALL_AGAIN = "pip install -r requirements.txt"
MIGRATE = "python manage.py migrate"
# How each platform applies a saved diff. PowerShell has no `<`, so Windows uses git
# apply, in a line that bash reads alike (the type-along test runs it with bash).
APPLY_COMMANDS = {
    "bash": "patch -p1 < ../{patch}",
    "powershell": "git apply -p1 --ignore-whitespace --verbose ../{patch}",
}
NOT_IF_TYPED = "# not if you typed the lesson"

WIDTH = 90  # of the generated prose, as the hand-written prose around it
INDENT = "   "  # a numbered item's own lines


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip


def _block(language: str, commands: list[str]) -> list[str]:
    """A fenced block of commands inside a numbered item."""
    return [f"{INDENT}```{language}", *(INDENT + command for command in commands), f"{INDENT}```"]


def _item(*parts: str | list[str]) -> list[str]:
    """A numbered item's lines, indented: prose paragraphs (str) and blocks (lists),
    with a blank line between them. _numbered() puts its number on the first line."""
    lines = []
    for part in parts:
        if lines:
            lines.append("")
        lines += _wrap(part, INDENT) if isinstance(part, str) else part
    return lines


def _numbered(items: list[list[str]]) -> list[str]:
    lines = []
    for number, item in enumerate(items, start=1):
        lines += [f"{number}. {item[0].removeprefix(INDENT)}", *item[1:]]
    return lines


def _and(names) -> str:
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _file_item(changed: ChangedFile) -> str:
    if changed.change == "removed":
        return f"- `{changed.name}` (removed)"
    count = f"{changed.lines} line" if changed.lines == 1 else f"{changed.lines} lines"
    item = f"- `{changed.name}` ({changed.change}, {count})"
    return f"{item}: {changed.given}" if changed.given else item


def _diff_block(summary: str, diff: str) -> list[str]:
    return [
        f"<details><summary>{summary}</summary>", "", "```diff", diff.rstrip("\n"), "```", "",
        "</details>",
    ]  # fmt: skip


def patch_file_name(step: Step, given: bool = False) -> str:
    """What the student saves this step's diff (or the diff of its given files) as."""
    return f"step{step.number:02d}{'-given' if given else ''}.patch"


def what_changed_block(steps: list[Step], step: Step) -> str:
    """A step's files, typed or copied, each with the lines it adds; its lesson lines
    against its teaching minutes; its diffs; how to bring a folder to it. As Markdown."""
    changes = step_changes(steps, step)
    if step.number == 1:
        lines = ["Every file is new in this step:", ""]
        lines += [f"- `{name}` ({change})" for name, change in changes.items()]
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
    files = step_files(steps, step)
    typed = [changed.name for changed in files if changed.typed]
    given = [changed.name for changed in files if not changed.typed]
    lines = [
        *_wrap(
            f"Files added or changed since `{previous.folder}`, each with the lines it adds "
            "(blank lines aside):"
        ),
        "",
    ]
    if README in changes:
        lines += [f"- `{README}` ({changes[README]}): this page, which the diffs leave out", ""]
    if writes_its_tests(steps, step):
        lines += [
            *_wrap(
                "Type these: they carry the lesson. Here the tests are the lesson too; from the "
                "next step on they are given, to copy."
            ),
            "",
        ]
    else:
        lines += ["Type these: they carry the lesson.", ""]
    lines += [_file_item(changed) for changed in files if changed.typed]
    if given:
        lines += ["", "Copy these: they are given, not typed.", ""]
        lines += [_file_item(changed) for changed in files if not changed.typed]
    lines += [
        "",
        *_wrap(
            f"Lesson lines: {step_budget(steps, step).lesson_lines}, for a teaching time of "
            f"{step.teach} min (at most {LINES_PER_MINUTE} a minute; the lines added to code, "
            "templates, static files and requirements.txt count, tests and migrations do not)."
        ),
        "",
        *_diff_block(
            f"The diff of the files you type (<code>{patch_file_name(step)}</code>)",
            unified_diff(previous.path, step.path, exclude=(README, *given)),
        ),
    ]
    if given:
        lines += [
            "",
            *_diff_block(
                "The diff of the files you copy "
                f"(<code>{patch_file_name(step, given=True)}</code>)",
                unified_diff(previous.path, step.path, exclude=(README, *typed)),
            ),
        ]
    lines += ["", *own_folder_steps(steps, step)]
    return "\n".join(lines)


def own_folder_start(step: Step) -> list[str]:
    """For the first step: how a student starts the one folder they carry along."""
    return [
        "### Building on your own folder",
        "",
        'Typing along? Make your own folder from this step: copy it as "Run it" shows',
        "below, and work in that copy from now on. Each later step's README says how to",
        "bring your folder forward, in the same place as this paragraph.",
    ]


def own_folder_steps(steps: list[Step], step: Step) -> list[str]:
    """How a student brings their own folder from the previous step to this one.

    tests/test_type_along.py follows exactly these instructions, from step 01 onwards,
    and compares the folder with each reference step: change them together. A numbered
    item with a ```powershell block is Linux and macOS in its ```bash blocks and Windows
    in its ```powershell ones; an item with ```bash blocks alone holds for every platform.
    """
    previous = steps[step.number - 2]
    files = step_files(steps, step)
    names = [changed.name for changed in files]
    has_given = any(not changed.typed for changed in files)
    items = [
        _item(
            f"Put your exercise edits aside first, or the {'diffs' if has_given else 'diff'} "
            "will not apply (`Hunk #1 FAILED`). In a git repository, `git stash` keeps them "
            "(`git stash pop` brings them back); without git, copy your folder somewhere else "
            "first, then undo them."
        ),
        *_diff_items(step, has_given),
    ]
    if "requirements.txt" in names:
        items.append(
            _item(
                "`requirements.txt` changed: install again, with your virtual environment active:",
                _block("bash", [INSTALL_AGAIN]),
                "Skip this, and the new packages are missing: `ModuleNotFoundError: No module "
                "named ...`, or `InvalidChannelLayerError: Cannot import BACKEND ...` for the "
                "channel layer. From the repository, `python3 -m workshop doctor "
                f"{step.number} --project path/to/your/folder` checks the virtualenv you have "
                "active.",
            )
        )
    if any(is_migration(name) for name in names):
        items.append(
            _item(
                "The step changes the database's tables (a migration): apply it to your "
                "database, with your virtual environment active:",
                _block("bash", [MIGRATE]),
                "Skip this, and the server stops at the first query with `OperationalError: no "
                "such table: ...`.",
            )
        )
    if step.files:
        items.append(_files_item(step.files))
    running = processes_running(steps, step)
    if running:
        items.append(_processes_item(running, step, changes_code(steps, step)))
    lines = [
        *_wrap(
            f"Typing along in your own folder? It should be where `{previous.folder}` is. "
            "Bring it to this step:"
        ),
        "",
        *_numbered(items),
        "",
    ]
    start_clean = (
        "A hunk failed, or you would rather start clean? Copy the reference folder "
        f'`{step.folder}` instead ("Run it" shows how), and carry on there.'
    )
    for earlier in steps[: step.number]:
        if earlier.files:
            where = (
                "above" if earlier.number == step.number else f"`{earlier.folder}`'s README says"
            )
            start_clean += (
                f" The copy lacks {_and(earlier.files)}, which no diff can carry: make them "
                f"as {where}."
            )
    return ["### Building on your own folder", "", *lines, *_wrap(start_clean)]


def _diff_items(step: Step, has_given: bool) -> list[list[str]]:
    """Save the step's diff (and the diff of its given files), then apply them."""
    patch, given_patch = patch_file_name(step), patch_file_name(step, given=True)
    if not has_given:
        return [
            _item(
                "Type the files as the lesson goes, from the diff above. Fallen behind, or not "
                "typing? Copy the diff instead (the copy button at the top right of the "
                f"block) into a new file `{patch}` next to your folder, not inside it."
            ),
            _apply_item(step, [patch], "apply it (unless you typed it all)"),
        ]
    return [
        _item(
            'Type the files under "Type these" as the lesson goes, from the first diff above. '
            "Fallen behind, or not typing? Copy that diff instead (the copy button at the top "
            f"right of the block) into a new file `{patch}` next to your folder, not inside it."
        ),
        _item(
            'Copy the second diff, of the files under "Copy these", into a new file '
            f"`{given_patch}` next to your folder too."
        ),
        _apply_item(step, [patch, given_patch], "apply them"),
    ]


def _apply_item(step: Step, patches: list[str], what: str) -> list[str]:
    return _item(
        f"From inside your folder, {what}. Linux and macOS:",
        _apply_block("bash", patches),
        "Windows (PowerShell, with Git installed; your folder need not be a git repository, "
        "and `--ignore-whitespace` copes with Windows line endings):",
        _apply_block("powershell", patches),
        "Each file of the lists above but README.md is named once (`patching file ...`, or "
        "`Applied patch ... cleanly.`). `-p1` drops the first part of the paths in the diff "
        f"(`{step.folder}/`), so the paths are relative to your folder.",
    )


def _apply_block(language: str, patches: list[str]) -> list[str]:
    commands = [APPLY_COMMANDS[language].format(patch=patch) for patch in patches]
    if len(commands) > 1:
        # The first applies the lesson: a student who typed it skips that line.
        width = max(map(len, commands))
        commands[0] = f"{commands[0].ljust(width)}  {NOT_IF_TYPED}"
    return _block(language, commands)


def _files_item(files: tuple[str, ...]) -> list[str]:
    """Make the empty files a step needs, on each platform."""
    folders = sorted({str(pathlib.PurePosixPath(name).parent) for name in files} - {"."})
    return _item(
        f"The step needs {_and(files)}, empty, and no diff can create an empty file. Make "
        "them from inside your folder (without them, the page says `No such file or "
        "directory`). Linux and macOS:",
        _block("bash", [*(f"mkdir -p {folder}" for folder in folders), f"touch {' '.join(files)}"]),
        "Windows (PowerShell):",
        _block(
            "powershell",
            [
                *(f"mkdir {folder}" for folder in folders),
                f"New-Item -ItemType File {', '.join(files)}",
            ],
        ),
    )


def _processes_item(running: list[tuple[str, Step]], step: Step, code_changed: bool) -> list[str]:
    """Start the step's new workers; restart the running ones when the step changes code."""
    parts = [
        "Beside the server, run each of these in a terminal of its own: from inside your "
        "folder, with your virtual environment active, and with the same `REDIS_URL` as the "
        "server if you set one (they meet in that Redis). Unlike `runserver`, a worker does "
        "not reload code that changes: after a step that changes code, stop it (Ctrl-C) and "
        "start it again."
    ]
    for command, started_by in running:
        if started_by.number == step.number:
            parts.append("New in this step: start it.")
        elif code_changed:
            parts.append(
                f"Running since `{started_by.folder}`: restart it (this step changes code)."
            )
        else:
            parts.append(f"Running since `{started_by.folder}`: keep it running.")
        parts.append(_block("bash", [command]))
    return _item(*parts)


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


def lesson_budget_block(steps: list[Step]) -> str:
    """CONTRIBUTING.md's table: each step's lesson lines, the teaching minutes they need at
    the typing pace, and the minutes steps.toml gives it."""
    lines = [
        "| step | lesson lines | at least (min) | teach (min) | lines a minute | exercise (min) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step, row in zip(steps, budgets(steps), strict=True):
        if row.copied_whole:
            counted = ("copied whole", "-", str(step.teach), "-")
        else:
            counted = (
                str(row.lesson_lines), str(row.at_least), str(step.teach),
                f"{row.lines_per_minute:.1f}",
            )  # fmt: skip
        lines.append(f"| `{step.folder}` | {' | '.join(counted)} | {step.exercise} |")
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
    contributing = REPO_ROOT / "CONTRIBUTING.md"
    updated[contributing] = replace_block(
        contributing.read_text(encoding="utf-8"), "lesson-budget", lesson_budget_block(steps)
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
