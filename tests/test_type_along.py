"""The type-along path: one folder, carried from step 01 to the last step by the READMEs alone.

A student keeps one folder and, for each step, does only what that step's README says
under "Building on your own folder": save the README's diff next to the folder, run the
apply command the README gives (once as on Linux and macOS, once as on Windows), and
install again where the README says so. After each step the folder must equal the
reference step byte for byte (README.md aside: the diff leaves it out, and says so).
This makes the READMEs' diffs and instructions tested artefacts, not only the folders.

The folder's own suite is not run here: a folder equal to the reference step, file for
file (the generated files aside: caches, databases), runs what the reference step runs,
and tests/test_student_suite.py runs each reference step's own suite already.

Installing again is checked, not run: the README must say `pip install -r
requirements.txt` whenever requirements.txt changed, and the folder's requirements.txt
must then equal the reference's, whose pins the rest of the suite installs and uses. A
real pip install per step would test pip and the network, not the README, and costs a
minute per step on a shared machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.prerequisites import unavailable
from workshop.commands.docs import BEGIN, END
from workshop.diffing import changed_files
from workshop.manifest import load_steps
from workshop.step_server import copy_project

STEPS = load_steps()
LEFT_OUT_OF_THE_DIFF = "README.md"
INSTALL_AGAIN = "pip install -r requirements.txt"

# The README's fenced block for each platform's apply command.
PLATFORMS = {"linux-macos": "bash", "windows": "powershell"}


def own_folder_part(readme: str) -> str:
    """The generated "What changed" block of a README, where the instructions live."""
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


def readme_diff(block: str) -> str:
    (diff,) = fenced_blocks(block, "diff")
    return diff


def apply_command(block: str, language: str) -> str:
    """The one command of the part's `language` block that applies the saved diff."""
    commands = [
        line.strip()
        for body in fenced_blocks(block, language)
        for line in body.splitlines()
        if ".patch" in line
    ]
    assert len(commands) == 1, f"expected one apply command in the {language} blocks: {commands}"
    return commands[0]


WHERE = {
    "added": "only in your folder",
    "removed": "missing from your folder",
    "changed": "differs",
}


def differences(folder, reference) -> dict[str, str]:
    """What still separates the student's folder from the reference (README.md aside)."""
    found = changed_files(reference, folder)
    found.pop(LEFT_OUT_OF_THE_DIFF, None)
    return {name: WHERE[change] for name, change in found.items()}


def follow_readme(folder, step, language: str) -> str:
    """Do what the step's README says to bring `folder` to `step`; return the apply output."""
    block = own_folder_part((step.path / "README.md").read_text(encoding="utf-8"))
    command = apply_command(block, language)
    program = command.split()[0]
    if shutil.which(program) is None:
        unavailable(f"`{program}` is not installed: Debian/Ubuntu `sudo apt-get install {program}`")
    patch_name = re.search(r"\.\./(\S+\.patch)", command).group(1)
    # "Copy the diff above into a new file next to your folder."
    (folder.parent / patch_name).write_text(readme_diff(block) + "\n", encoding="utf-8")
    # The Windows command is run by bash here: it is written so that both shells read it alike.
    applied = subprocess.run(
        ["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=60
    )
    output = applied.stdout + applied.stderr
    assert applied.returncode == 0, f"{step.folder}: `{command}` failed:\n{output}"
    if "requirements.txt" in step.changed:
        assert INSTALL_AGAIN in block, (
            f"{step.folder} changes requirements.txt, but its README does not say "
            f"`{INSTALL_AGAIN}` under 'Building on your own folder'"
        )
    return output


@pytest.mark.parametrize("platform", PLATFORMS)
def test_one_folder_reaches_every_step_by_the_readmes_alone(platform, tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    folder = copy_project(STEPS[0].path, student)
    for step in STEPS[1:]:
        output = follow_readme(folder, step, PLATFORMS[platform])
        left = differences(folder, step.path)
        assert not left, (
            f"after following {step.folder}/README.md ({platform}), the folder still differs "
            f"from the reference: {left}\nThe apply command said:\n{output}"
        )
