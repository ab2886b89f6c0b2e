"""`python -m workshop test --step N / --changed / --python X.Y`: the suite one step at a
time, for what a branch changed, and on the Pythons students bring."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from tests.workshop_command import workshop
from workshop.manifest import REPO_ROOT, get_step, load_steps
from workshop.test_selection import changed_paths, classify

STEPS = load_steps()


def collected(output: str) -> list[str]:
    return [line for line in output.splitlines() if "::" in line and line.startswith("tests/")]


def test_step_3_collects_its_acceptance_diff_readme_and_pin_tests_and_no_other_steps():
    result = workshop("test", "--step", "3", "--collect-only", "-q", timeout=300)
    assert result.returncode == 0, result.output
    tests = collected(result.output)
    ids = [re.search(r"\[(step\d+)", test) for test in tests]
    assert {match.group(1) for match in ids if match} == {"step03"}, result.output
    for expected in (
        "tests/acceptance/test_http.py::test_index_page_renders[step03]",
        "tests/acceptance/test_groups.py::test_members_of_a_room_see_each_other",
        "tests/acceptance/test_idle_sockets.py::",
        "tests/test_step_diffs.py::test_the_manifest_lists_exactly_the_files_the_step_changed",
        "tests/test_step_diffs.py::test_the_readme_lists_exactly_the_files_the_step_changed",
        "tests/test_pins.py::test_step_requirements_are_exact_pins_matching_pyproject[step03]",
    ):
        assert any(test.startswith(expected) for test in tests), f"{expected}:\n{result.output}"
    # Step 03 has no input checks: their tests are left out, not shown as skipped.
    assert not any("test_input_checks" in test for test in tests)
    assert "tests/test_slides.py" not in result.output


def test_a_step_with_its_own_suite_runs_it():
    result = workshop("test", "--step", "5", "--collect-only", "-q", timeout=300)
    assert result.returncode == 0, result.output
    assert "tests/test_student_suite.py::test_the_steps_own_suite_passes[step05]" in result.output


def test_changes_are_sorted_into_steps_test_files_and_what_everything_depends_on():
    changes = classify(
        [
            f"{get_step(4).folder}/chat/consumers.py",
            f"{get_step(2).folder}/README.md",
            f"{get_step(4).folder}/chat/routing.py",
            "tests/acceptance/test_http.py",
            "slides/index.md",
        ]
    )
    assert [step.number for step in changes.steps] == [2, 4]
    assert sorted(changes.test_files) == ["tests/acceptance/test_http.py", "tests/test_slides.py"]
    assert not changes.everything_depends_on
    for shared in ("workshop/manifest.py", "steps.toml", "tests/conftest.py", "pyproject.toml"):
        assert classify([shared]).everything_depends_on == [shared]


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_changed_paths_are_commits_edits_and_new_files_since_the_branch_left_main(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    for name in ("step01/a.py", "step02/b.py", "step03/c.py"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_text("x = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "start")
    git(tmp_path, "switch", "-q", "-c", "lesson")
    (tmp_path / "step01/a.py").write_text("x = 2\n")
    git(tmp_path, "commit", "-q", "-am", "committed on the branch")
    (tmp_path / "step02/b.py").write_text("x = 3\n")  # edited, not committed
    (tmp_path / "step03/new.py").write_text("")  # new, not added
    git(tmp_path, "switch", "-q", "main")
    (tmp_path / "other.txt").write_text("")
    git(tmp_path, "add", "other.txt")
    git(tmp_path, "commit", "-q", "-m", "main moved on")  # not the branch's change
    git(tmp_path, "switch", "-q", "lesson")
    assert sorted(changed_paths("main", root=tmp_path)) == [
        "step01/a.py",
        "step02/b.py",
        "step03/new.py",
    ]


def test_changed_says_what_it_compared_and_what_it_runs():
    # Inside a measured run (`workshop test`), the data files the run has collected so far
    # must outlive this nested one: a branch that changed the tooling makes it a whole-suite
    # run, which erases its own data files, and must not erase the outer run's.
    outer = os.environ.get("COVERAGE_FILE")
    collected_so_far = pathlib.Path(f"{outer}.collected-so-far") if outer else None
    if collected_so_far:
        collected_so_far.write_text("")
    try:
        result = workshop("test", "--changed", "--collect-only", "-q", timeout=300)
        assert collected_so_far is None or collected_so_far.exists(), (
            "the nested run erased the outer run's coverage data"
        )
    finally:
        if collected_so_far:
            collected_so_far.unlink(missing_ok=True)
    assert result.returncode in (0, 5), result.output  # 5: pytest collected nothing
    assert re.search(
        r"Nothing differs from main|changed steps:|changed outside the steps:|changed or affected",
        result.output,
    ), result.output


@pytest.mark.parametrize(("ci", "code"), [("true", 3), ("", 0)])
def test_a_python_not_on_the_machine_fails_in_ci_and_skips_locally(ci, code):
    result = workshop("test", "--python", "2.9", env={"CI": ci}, timeout=120)
    assert result.returncode == code, result.output
    assert "Python 2.9 is not on this machine" in result.output
    assert "pyenv install 2.9" in result.output


def test_the_readme_states_the_pythons_the_ci_lanes_install_the_steps_on():
    lanes = re.findall(r"--python (3\.\d+)", (REPO_ROOT / ".ci" / "run").read_text())
    assert len(lanes) >= 2, ".ci/run runs no Python lanes (python3 -m workshop test --python X.Y)"
    versions = sorted(lanes, key=lambda version: int(version.split(".")[1]))
    stated = f"Python {versions[0]} to {versions[-1]}"
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert stated in readme, f"README.md must say the steps run on {stated} (what CI proves)"


def test_the_harness_serves_the_steps_with_the_interpreter_given(tmp_path):
    # What the Python lanes rest on: --step-python starts manage.py and Daphne with that
    # interpreter. A wrapper records each start, then runs this Python.
    calls = tmp_path / "calls.log"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
            "tests/acceptance/test_http.py::test_index_page_renders",
            "--step", "1", "--step-python", str(wrapper), f"--basetemp={tmp_path / 'run'}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    started = calls.read_text()
    assert "manage.py migrate" in started, started
    assert "-m daphne" in started, started


def test_a_steps_tests_of_one_folder_share_a_worker_and_other_files_stay_together():
    # tests/conftest.py's xdist scheduler: a worker serves a step once, for all its tests.
    from tests.conftest import worker_group

    http = "tests/acceptance/test_http.py::test_index_page_renders[step03]"
    frame = "tests/acceptance/test_input_checks.py::test_a_bad_frame[not JSON-step03]"
    faults = "tests/reliability/test_faults.py::test_the_page_reconnects[step03]"
    assert worker_group(http) == worker_group(frame) == "step03-acceptance"
    assert worker_group(faults) == "step03-reliability"
    assert worker_group(http.replace("step03", "step04")) == "step04-acceptance"
    deck = "tests/test_slides.py"
    assert worker_group(f"{deck}::test_a[x]") == worker_group(f"{deck}::test_b") == deck
