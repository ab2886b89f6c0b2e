"""The workshop's versions, read from the files students have: pyproject.toml, each step's
requirements.txt, and the lock (constraints.txt). `packaging` parses them as pip does."""

from __future__ import annotations

import pathlib
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .bootstrap import CONSTRAINTS
from .manifest import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"


def requirements(lines) -> list[Requirement]:
    """The requirements among requirements.txt-style lines: comments, blanks and pip options
    (`-r`, `-c`, `--hash`) skipped."""
    found = []
    for line in lines:
        text = line.split(" #", 1)[0].split("\\", 1)[0].strip()
        if text and not text.startswith(("#", "-")):
            found.append(Requirement(text))
    return found


def exact_version(requirement: Requirement) -> str | None:
    """The version of a `name==version` requirement, else None."""
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator == "==":
        return specifiers[0].version
    return None


def exact_pins(lines) -> dict[str, str]:
    """{name as written: version} of every requirement pinned with ==."""
    return {
        requirement.name: version
        for requirement in requirements(lines)
        if (version := exact_version(requirement)) is not None
    }


def by_canonical_name(pins: dict[str, str]) -> dict[str, str]:
    """The same pins keyed as pip compares names (Django is django)."""
    return {canonicalize_name(name): version for name, version in pins.items()}


def _project() -> dict:
    with open(PYPROJECT, "rb") as file:
        return tomllib.load(file)["project"]


def runtime_pins() -> dict[str, str]:
    """The pins of pyproject.toml's [project] dependencies: what the chat itself needs."""
    return exact_pins(_project().get("dependencies", []))


def optional_dependency_groups() -> dict[str, list[str]]:
    """pyproject.toml's extras: {"dev": [...], ...}."""
    return dict(_project().get("optional-dependencies", {}))


def pyproject_pins(extras: tuple[str, ...] | None = None) -> dict[str, str]:
    """The pins of pyproject.toml: the dependencies and those of the extras named (all of
    them when extras is None)."""
    entries = list(_project().get("dependencies", []))
    for extra, group in optional_dependency_groups().items():
        if extras is None or extra in extras:
            entries += group
    return exact_pins(entries)


def step_pins(step_folder: pathlib.Path) -> dict[str, str]:
    return exact_pins((step_folder / "requirements.txt").read_text().splitlines())


def locked_requirements() -> list[Requirement]:
    """The lines of constraints.txt (each `name==version`, some with a platform marker)."""
    return requirements(CONSTRAINTS.read_text().splitlines())


def applies_here(requirement: Requirement) -> bool:
    """Whether a requirement's marker (`; sys_platform == "win32"`) holds on this machine."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pin_mismatches(pins: dict[str, str]) -> list[str]:
    """'name 1.0 installed, 2.0 pinned' (or 'not installed') for each pin not met."""
    problems = []
    for name, wanted in pins.items():
        installed = installed_version(name)
        if installed is None:
            problems.append(f"{name} not installed ({wanted} pinned)")
        elif installed != wanted:
            note = ""
            if canonicalize_name(name) == "redis" and int(installed.split(".")[0]) >= 8:
                note = " (redis-py 8 closes idle chat sockets after 5 s)"
            problems.append(f"{name} {installed} installed, {wanted} pinned{note}")
    return problems
