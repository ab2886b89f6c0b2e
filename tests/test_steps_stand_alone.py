"""Each step folder is a project of its own: its code never reaches into the repository.

The acceptance tests already run every step from a copy outside the repository, which
catches paths into it. An import of the tooling would still work there (the tooling is
installed in the same environment), so imports are checked here.
"""

import ast

import pytest

from workshop.diffing import project_files
from workshop.manifest import load_steps

STEPS = load_steps()
REPOSITORY_PACKAGES = {"workshop", "tests", "notebooks", "slides"}


@pytest.mark.parametrize("manifest_step", STEPS, ids=[s.label for s in STEPS])
def test_step_code_imports_nothing_from_the_repository(manifest_step):
    for name, path in project_files(manifest_step.path).items():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in REPOSITORY_PACKAGES, f"{manifest_step.folder}/{name}: {module}"
