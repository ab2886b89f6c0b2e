"""The commands a student runs first (`run`, `diff`, `docs`, `doctor`) work with the chat's
own packages only: the bootstrap installs the dev extras (pytest, tabulate, matplotlib,
Jupyter...) for the other commands, not for these. Checked by running the command line in a
Python that refuses to import any package that only the dev extras bring."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib

import pytest

from workshop.bootstrap import RUNTIME_COMMANDS
from workshop.manifest import REPO_ROOT

# Refuse the modules given in argv[1] (comma-separated), then run the rest of argv as the
# command line; "import:NAME" imports a module instead.
REFUSING_PYTHON = """
import importlib.abc, sys
refused = set(sys.argv[1].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused:
            raise ModuleNotFoundError(f"No module named {name!r} (a dev-only package)")
sys.meta_path.insert(0, Refuse())
if sys.argv[2].startswith("import:"):
    __import__(sys.argv[2].removeprefix("import:"))
else:
    from workshop.cli import main
    sys.exit(main(sys.argv[2:]))
"""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def dev_only_modules() -> list[str]:
    """Top-level modules of the dev extras' distributions that the runtime list lacks."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev_only = {_name(r) for r in project["optional-dependencies"]["dev"]} - runtime
    modules = set()
    for module, distributions in importlib.metadata.packages_distributions().items():
        if any(_name(d) in dev_only for d in distributions) and module.isidentifier():
            modules.add(module)
    return sorted(modules)


def run_refusing(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", REFUSING_PYTHON, ",".join(dev_only_modules()), *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_dev_only_list_names_what_the_runtime_must_not_need():
    modules = dev_only_modules()
    # If these are not found, the refusing Python refuses nothing and the tests below prove nothing.
    assert {"pytest", "tabulate", "matplotlib"} <= set(modules), modules


def test_the_refusing_python_refuses_a_dev_only_package():
    result = run_refusing("import:tabulate")
    assert result.returncode != 0 and "a dev-only package" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["diff", "1", "2"]]
    + [[command, "--help"] for command in sorted(RUNTIME_COMMANDS) if not command.startswith("-")],
    ids=" ".join,
)
def test_a_runtime_command_needs_no_dev_only_package(argv):
    result = run_refusing(*argv)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@pytest.mark.parametrize("command", sorted(c for c in RUNTIME_COMMANDS if not c.startswith("-")))
def test_a_runtime_commands_module_imports_without_dev_only_packages(command):
    result = run_refusing(f"import:workshop.commands.{command}")
    assert result.returncode == 0, result.stderr[-3000:]
