"""`python -m workshop diff`: the instructor's view of what a step changed."""

from tests.workshop_command import workshop
from workshop.diffing import unified_diff
from workshop.manifest import get_step


def listed_files(output: str) -> list[str]:
    """The file list under the first line ("FROM -> TO: N files"), up to the blank line."""
    names = []
    for line in output.splitlines()[1:]:
        if not line.strip():
            break
        change, name = line.split()[:2]  # README.md may carry a note after it
        assert change in ("added", "changed", "removed"), line
        names.append(name)
    return names


def test_diff_2_3_lists_exactly_the_files_the_manifest_lists_for_step_3():
    before, after = get_step(2), get_step(3)
    result = workshop("diff", "2", "3")
    assert result.returncode == 0, result.output
    first_line = result.output.splitlines()[0]
    assert first_line == f"{before.folder} -> {after.folder}: {len(after.changed)} files"
    assert sorted(listed_files(result.output)) == sorted(after.changed)
    assert "+CHANNEL_LAYERS = {" in result.output  # and the diff itself follows


def diffed_files(output: str) -> list[str]:
    """The files whose diffs the output shows, in order (from the +++ lines)."""
    return [line.split("/", 1)[1] for line in output.splitlines() if line.startswith("+++ ")]


def test_diff_shows_the_code_and_leaves_the_readme_to_a_flag():
    before, after = get_step(2), get_step(3)
    result = workshop("diff", "2", "3")
    assert result.returncode == 0, result.output
    assert "README.md  (its diff: add --readme)" in result.output
    code = sorted(name for name in after.changed if name != "README.md")
    assert diffed_files(result.output) == code
    # The same diff the step's README shows under "What changed".
    body = result.output.split("\n\n", 1)[1]
    expected = unified_diff(before.path, after.path, exclude=("README.md",))
    assert body.strip("\n") == expected.strip("\n")


def test_diff_with_readme_shows_the_readme_after_the_code():
    result = workshop("diff", "2", "3", "--readme")
    assert result.returncode == 0, result.output
    code = sorted(name for name in get_step(3).changed if name != "README.md")
    assert diffed_files(result.output) == [*code, "README.md"]
