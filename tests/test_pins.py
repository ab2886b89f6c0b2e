"""One set of versions: the steps' requirements.txt files, pyproject.toml, the lock
(constraints.txt), what is installed, and the versions the pages state all agree."""

import re

import pytest
from packaging.utils import canonicalize_name

from workshop.manifest import REPO_ROOT, load_steps
from workshop.pins import (
    applies_here,
    by_canonical_name,
    exact_pins,
    exact_version,
    installed_version,
    locked_requirements,
    optional_dependency_groups,
    pyproject_pins,
    requirements,
    runtime_pins,
    step_pins,
)

STEPS = load_steps()
PROJECT_PINS = by_canonical_name(runtime_pins())
# What the pages say in prose ("Django 5.2", "Channels 4.3"...): the pins' major.minor.
STATED_VERSION = re.compile(r"\b(Django|Channels|Daphne|channels-redis) (\d+\.\d+)(?:\.\d+)?\b")
PAGES = [
    path
    for path in REPO_ROOT.rglob("*.md")
    if not {".venv", ".git", "node_modules", "_build"} & set(path.relative_to(REPO_ROOT).parts)
]


def requirement_lines(step) -> list[str]:
    """The requirement lines of a step's requirements.txt (comments and blanks left out)."""
    text = (step.path / "requirements.txt").read_text()
    return [str(requirement) for requirement in requirements(text.splitlines())]


@pytest.mark.parametrize("step", STEPS, ids=[s.label for s in STEPS])
def test_step_requirements_are_exact_pins_matching_pyproject(step):
    lines = requirement_lines(step)
    pins = by_canonical_name(step_pins(step.path))
    assert len(pins) == len(lines), f"{step.folder}: every requirement must be pinned with =="
    for name, version in pins.items():
        assert PROJECT_PINS.get(name) == version, (
            f"{step.folder}/requirements.txt pins {name}=={version}, "
            f"pyproject.toml has {PROJECT_PINS.get(name)}"
        )


def test_redis_client_stays_below_8_where_the_redis_layer_is_used():
    # redis-py 8 closes idle chat sockets after 5 s (channels_redis#422).
    for step in STEPS:
        pins = by_canonical_name(step_pins(step.path))
        if "channels-redis" in pins:
            assert "redis" in pins, f"{step.folder} must pin redis (redis<8)"
            assert int(pins["redis"].split(".")[0]) < 8, f"{step.folder}: redis-py 8"


def test_the_versions_the_pages_state_are_the_pinned_ones():
    stated = [
        (path, name, series)
        for path in PAGES
        for name, series in STATED_VERSION.findall(path.read_text(encoding="utf-8"))
    ]
    assert len({name for _, name, _ in stated}) == 4, "the pages no longer state the versions"
    for path, name, series in stated:
        pinned = PROJECT_PINS[canonicalize_name(name)]
        assert pinned.startswith(series + "."), (
            f"{path.relative_to(REPO_ROOT)} says {name} {series}, pyproject.toml pins {pinned}"
        )


# --- The lock ------------------------------------------------------------------------------

LOCKED = {canonicalize_name(r.name): r for r in locked_requirements()}


def test_the_lock_pins_every_package_exactly_and_agrees_with_pyproject():
    for requirement in LOCKED.values():
        assert exact_version(requirement), f"constraints.txt: {requirement} is not an == pin"
    for name, version in by_canonical_name(pyproject_pins()).items():
        assert name in LOCKED, (
            f"{name} is pinned in pyproject.toml but not locked: python -m workshop lock"
        )
        assert exact_version(LOCKED[name]) == version, (
            f"pyproject.toml pins {name}=={version}, constraints.txt {LOCKED[name]}: "
            "run python -m workshop lock"
        )


def test_what_is_installed_is_what_the_lock_says():
    """Every locked package that applies here is installed at its version, and nothing
    else is installed (the maintainer's tools may be absent)."""
    from importlib import metadata

    maintainer_only = {
        canonicalize_name(r.name)
        for r in requirements(optional_dependency_groups().get("maintainer", []))
    }
    for name, requirement in LOCKED.items():
        installed = installed_version(name)
        if not applies_here(requirement) or (installed is None and name in maintainer_only):
            continue
        assert installed == exact_version(requirement), (
            f"{name} {installed} is installed, constraints.txt locks {exact_version(requirement)}"
        )
    unlocked = (
        {canonicalize_name(dist.metadata["Name"]) for dist in metadata.distributions()}
        - set(LOCKED)
        - {"channels-workshop", "pip", "setuptools", "wheel"}
    )
    assert not unlocked, f"installed but not in constraints.txt: {sorted(unlocked)}"


def test_exact_pins_reads_extras_markers_and_comments():
    lines = [
        "uvicorn[standard]==0.54.0",
        "Django==5.2.19  # LTS",
        "# a comment",
        "redis<8",
        "colorama==0.4.6 ; sys_platform == 'win32'",
    ]
    assert exact_pins(lines) == {"uvicorn": "0.54.0", "Django": "5.2.19", "colorama": "0.4.6"}
