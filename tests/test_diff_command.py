"""`python -m workshop diff`: the instructor's view of what a step changed."""

from tests.workshop_command import workshop
from workshop.manifest import get_step


def listed_files(output: str) -> list[str]:
    """The file list under the first line ("FROM -> TO: N files"), up to the blank line."""
    names = []
    for line in output.splitlines()[1:]:
        if not line.strip():
            break
        change, name = line.split(None, 1)
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
