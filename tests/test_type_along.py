"""The type-along path: one folder, carried from step 01 to the last step by the READMEs alone.

A student keeps one folder and, for each step, does only what that step's README says
under "Building on your own folder", item by item: save the README's diffs next to the
folder (the lesson's, and the given files'), apply them with the commands the README gives
(once as on Linux and macOS, once as on Windows), migrate where it says so, make the
files it says, and start or restart the workers it names. After each step the folder must
equal the reference step byte for byte (README.md aside: the diffs leave it out, and say
so; the files that no diff can carry aside, which must be there, empty). This makes the
READMEs' diffs and instructions tested artefacts, not only the folders.

Typing the lesson is played by applying the lesson's diff: what a student types is what
that diff adds. Which files are in which diff is workshop/lesson_budget.py's rule, and
the README's diffs must follow it: a student typing along never meets a test file to type
after the step that teaches writing them.

The folder's own suite is not run here: a folder equal to the reference step, file for
file (the generated files aside: caches, databases), runs what the reference step runs,
and tests/test_student_suite.py runs each reference step's own suite already.

Some instructions are checked, not run. Installing again: the README must say `pip install
-r requirements.txt` whenever requirements.txt changed, and the folder's requirements.txt
must then equal the reference's, whose pins the rest of the suite installs and uses (a real
pip install per step would test pip and the network, not the README, and costs a minute
per step on a shared machine). The workers: each must be named, with a restart where the
step changes code; starting them is what the acceptance tests of the worker steps do.
`python manage.py migrate` is run, with the tooling's Python (it has every step's packages).
PowerShell is not on the test machines, so the Windows lines run through bash: the apply
command reads alike in both, and the one cmdlet the README uses to make files
(`New-Item -ItemType File A, B`) is read as `touch A B`; any other is refused, so that a
README line no test follows cannot slip in.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.prerequisites import unavailable
from workshop.commands.docs import BEGIN, END
from workshop.diffing import changed_files
from workshop.lesson_budget import changes_code, is_migration, processes_running, step_files
from workshop.manifest import load_steps
from workshop.step_server import copy_project, project_env

STEPS = load_steps()
LEFT_OUT_OF_THE_DIFF = "README.md"
INSTALL_AGAIN = "pip install -r requirements.txt"
MIGRATE = "python manage.py migrate"

# Which fenced blocks of a numbered item each platform follows: its own language where the
# item has a block of it, else the item's ```bash blocks (the same on every platform).
PLATFORMS = {"linux-macos": "bash", "windows": "powershell"}


def own_folder_part(readme: str) -> str:
    """The generated "What changed" block of a README, where the diffs and instructions are."""
    begin, end = BEGIN.format(name="what-changed"), END.format(name="what-changed")
    assert begin in readme and end in readme, "no generated What changed block"
    block = readme.split(begin, 1)[1].split(end, 1)[0]
    assert "### Building on your own folder" in block, "no 'Building on your own folder' part"
    return block


def fenced_blocks(text: str, language: str) -> list[str]:
    """The contents of every ```language block (indented ones too, as inside a list)."""
    pattern = rf"^( *)```{language}\n(.*?)^\1```$"
    blocks = []
    for indent, body in re.findall(pattern, text, flags=re.MULTILINE | re.DOTALL):
        blocks.append("".join(line.removeprefix(indent) for line in body.splitlines(True)))
    return blocks


def readme_diffs(block: str) -> dict[str, str]:
    """{patch file name: diff}: each diff is folded under a summary naming its file."""
    pattern = r"<summary>[^<]*<code>([^<]+\.patch)</code>[^<]*</summary>\s*```diff\n(.*?)^```$"
    return dict(re.findall(pattern, block, flags=re.MULTILINE | re.DOTALL))


def files_in(diff: str) -> set[str]:
    """The project paths a diff touches (without the step folder its labels start with)."""
    labels = re.findall(r"^(?:---|\+\+\+) (\S+)", diff, flags=re.MULTILINE)
    return {label.split("/", 1)[1] for label in labels if label != "/dev/null"}


def numbered_items(block: str) -> list[str]:
    """The text of each numbered item of the "Building on your own folder" checklist."""
    checklist = block.split("### Building on your own folder", 1)[1]
    items = []
    for line in checklist.splitlines():
        if re.match(r"\d+\. ", line):
            items.append("")
        elif line and not line.startswith(" "):  # a paragraph after the list ends it
            if items:
                break
            continue
        if items:
            items[-1] += line + "\n"
    assert items, "no numbered checklist under 'Building on your own folder'"
    return items


def commands_to_follow(item: str, language: str) -> list[str]:
    blocks = fenced_blocks(item, language) or fenced_blocks(item, "bash")
    return [line.strip() for body in blocks for line in body.splitlines() if line.strip()]


def as_bash(command: str) -> str:
    """A Windows line as bash runs it (see the module's docstring)."""
    made = re.fullmatch(r"New-Item -ItemType File (.+)", command)
    if made:
        return "touch " + " ".join(shlex.quote(name.strip()) for name in made[1].split(","))
    verb = command.split()[0]
    assert not re.fullmatch(r"[A-Z][a-z]+-[A-Za-z]+", verb), (
        f"the README's Windows line `{command}` uses a cmdlet this test cannot follow"
    )
    return command


def run(command: str, folder) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{command}` failed in the student's folder:\n{output}"
    return output


def manage(folder, *args: str) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in the student's folder, with the tooling's Python."""
    env = project_env()
    env.pop("DATABASE_URL", None)  # the student's own database: the folder's SQLite file
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def migrate(folder) -> str:
    done = manage(folder, *MIGRATE.split()[2:])
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{MIGRATE}` failed in the student's folder:\n{output}"
    return output


def text_before(item: str, command: str) -> str:
    """The item's prose between the block naming `command` and the block before it."""
    before = item.split(f"```bash\n{' ' * 3}{command}\n", 1)[0]
    return before.rsplit("```", 1)[-1]


def follow_readme(folder, step, language: str) -> str:
    """Do what the step's README says to bring `folder` to `step`; return what it printed."""
    block = own_folder_part((step.path / "README.md").read_text(encoding="utf-8"))
    diffs = readme_diffs(block)
    check_diffs_follow_the_rule(step, diffs)
    running = dict(processes_running(STEPS, step))
    output, followed = [], []
    for item in numbered_items(block):
        for command in commands_to_follow(item, language):
            followed.append(command)
            if command in running:
                continue  # named, not started: the worker steps' acceptance tests start them
            if command == INSTALL_AGAIN:
                continue  # checked, not run: see the module's docstring
            if command == MIGRATE:
                output.append(migrate(folder))
                continue
            patch = re.search(r"\.\./(\S+\.patch)", command)
            if patch:
                program = command.split()[0]
                if shutil.which(program) is None:
                    unavailable(f"`{program}` is not installed: Debian/Ubuntu `sudo apt-get "
                                f"install {program}`")  # fmt: skip
                # "Copy the diff into a new file next to your folder."
                assert patch[1] in diffs, f"{step.folder}: no diff under <code>{patch[1]}</code>"
                (folder.parent / patch[1]).write_text(diffs[patch[1]] + "\n", encoding="utf-8")
            output.append(run(as_bash(command) if language == "powershell" else command, folder))
    if "requirements.txt" in step.changed:
        assert INSTALL_AGAIN in followed, (
            f"{step.folder} changes requirements.txt, but its README does not say "
            f"`{INSTALL_AGAIN}` under 'Building on your own folder'"
        )
    if any(is_migration(name) for name in step.changed):
        assert MIGRATE in followed, (
            f"{step.folder} changes a migration, but its README does not say `{MIGRATE}`"
        )
        unapplied = manage(folder, "migrate", "--check")  # fails while one is unapplied
        assert unapplied.returncode == 0, (
            f"after following {step.folder}/README.md, the database lacks a migration:\n"
            f"{unapplied.stdout}{unapplied.stderr}"
        )
    for command, started_by in running.items():
        assert command in followed, f"{step.folder}/README.md does not name `{command}`"
        if started_by.number != step.number and changes_code(STEPS, step):
            item = next(item for item in numbered_items(block) if command in item)
            assert "restart" in text_before(item, command), (
                f"{step.folder} changes code, but its README does not say to restart `{command}`"
            )
    return "\n".join(output)


def check_diffs_follow_the_rule(step, diffs: dict[str, str]) -> None:
    """The lesson's diff holds the files the student types, the second the files given."""
    files = step_files(STEPS, step)
    typed = {changed.name for changed in files if changed.typed}
    given = {changed.name for changed in files if not changed.typed}
    in_diffs = [files_in(diff) for diff in diffs.values()]
    assert in_diffs[:1] == [typed], f"{step.folder}: the first diff is not the files typed"
    assert in_diffs[1:] == ([given] if given else []), (
        f"{step.folder}: the files to copy are not the second diff, alone"
    )


WHERE = {
    "added": "only in your folder",
    "removed": "missing from your folder",
    "changed": "differs",
}


def differences(folder, step) -> dict[str, str]:
    """What still separates the student's folder from the reference (README.md aside, and
    the files no diff can carry, which must be there, empty)."""
    found = changed_files(step.path, folder)
    found.pop(LEFT_OUT_OF_THE_DIFF, None)
    for earlier in STEPS[: step.number]:
        for name in earlier.files:
            made = folder / name
            if not made.is_file() or made.stat().st_size:
                found[name] = "removed" if not made.is_file() else "changed"
            else:
                found.pop(name, None)
    return {name: WHERE[change] for name, change in found.items()}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_one_folder_reaches_every_step_by_the_readmes_alone(platform, tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    folder = copy_project(STEPS[0].path, student)
    for step in STEPS[1:]:
        output = follow_readme(folder, step, PLATFORMS[platform])
        left = differences(folder, step)
        assert not left, (
            f"after following {step.folder}/README.md ({platform}), the folder still differs "
            f"from the reference: {left}\nThe commands said:\n{output}"
        )
