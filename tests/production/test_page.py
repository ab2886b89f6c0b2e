"""docs/production.md shows the nginx file the stack runs, and names tests that exist."""

from __future__ import annotations

import ast
import re

import pytest
from markdown_it import MarkdownIt

from workshop.manifest import REPO_ROOT
from workshop.production_nginx import SITE_CONFIG

PAGES = ["docs/production.md", "docs/guarantees.md", "docs/benchmark.md"]
# A test named on a page: tests/production/test_stack.py::test_name
NAMED_TEST = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def test_the_nginx_block_on_the_page_is_the_file_the_stack_runs():
    page = (REPO_ROOT / "docs/production.md").read_text()
    blocks = [
        t.content for t in MarkdownIt().parse(page) if t.type == "fence" and t.info == "nginx"
    ]
    assert blocks == [SITE_CONFIG.read_text()], (
        "docs/production.md should show docs/production/nginx.conf exactly, in one nginx block"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_test_a_page_names_exists(page):
    named = NAMED_TEST.findall((REPO_ROOT / page).read_text())
    for path, name in named:
        module = ast.parse((REPO_ROOT / path).read_text())
        functions = {node.name for node in ast.walk(module) if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"{page} names {path}::{name}, which does not exist"
