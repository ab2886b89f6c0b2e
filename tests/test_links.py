"""Every relative link in the repository's Markdown pages leads somewhere: the file exists,
and a #fragment names a heading (or an HTML anchor) of the page it points to.

Links are read with markdown-it (the parser MyST uses), so links inside code blocks and
inline code are not links, as on GitHub; fragments are GitHub's heading slugs.
"""

from __future__ import annotations

import functools
import itertools
import os
import pathlib
import re
import urllib.parse

import pytest
from markdown_it import MarkdownIt

from workshop.manifest import REPO_ROOT

PAGE_PATTERNS = (
    "README.md",
    "CONTRIBUTING.md",
    "docs/*.md",
    "step*/README.md",
    "notebooks/README.md",
    "slides/README.md",
)
PAGES = sorted({path for pattern in PAGE_PATTERNS for path in REPO_ROOT.glob(pattern)})
MARKDOWN = MarkdownIt("commonmark").enable("table")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*?(?:id|name)=["']([^"']+)["']""")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _inline_tokens(tokens):
    for token in tokens:
        yield token
        yield from _inline_tokens(token.children or [])


@functools.cache
def parsed(path: pathlib.Path):
    return MARKDOWN.parse(path.read_text(encoding="utf-8"))


@functools.cache
def anchors(path: pathlib.Path) -> frozenset[str]:
    """The fragments a link may name in this page: its heading slugs and HTML ids."""
    tokens = parsed(path)
    found: set[str] = set()
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "heading_open":
            continue
        text = "".join(
            child.content
            for child in _inline_tokens(inline.children or [])
            if child.type in ("text", "code_inline")
        )
        slug, number = github_slug(text), 1
        while slug in found:  # GitHub numbers repeated headings: name, name-1, name-2
            slug, number = f"{github_slug(text)}-{number}", number + 1
        found.add(slug)
    found.update(HTML_ANCHOR.findall(path.read_text(encoding="utf-8")))
    return frozenset(found)


def relative_links(path: pathlib.Path) -> list[str]:
    links = []
    for token in _inline_tokens(parsed(path)):
        target = token.attrs.get("href") or token.attrs.get("src") if token.attrs else None
        if target and not urllib.parse.urlsplit(target).scheme:
            links.append(target)
    return links


def broken_link(page: pathlib.Path, link: str) -> str | None:
    """Why this link from page leads nowhere, or None if it resolves."""
    parts = urllib.parse.urlsplit(link)
    target = (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
    if not target.exists():
        return f"{link}: no file {target}"
    if REPO_ROOT.resolve() not in (target, *target.parents):
        return f"{link}: points outside the repository"
    if parts.fragment:
        if target.suffix != ".md":
            return f"{link}: a #fragment into a file that is not Markdown"
        if parts.fragment not in anchors(target):
            return f"{link}: no heading #{parts.fragment} in {target.relative_to(REPO_ROOT)}"
    return None


def test_the_pages_are_found():
    names = {str(page.relative_to(REPO_ROOT)) for page in PAGES}
    assert {"README.md", "CONTRIBUTING.md", "docs/troubleshooting.md"} <= names
    assert len([name for name in names if name.startswith("step")]) >= 6
    assert len(relative_links(REPO_ROOT / "README.md")) >= 10


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO_ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page):
    broken = [reason for link in relative_links(page) if (reason := broken_link(page, link))]
    assert not broken, f"{page.relative_to(REPO_ROOT)} has broken links:\n" + "\n".join(broken)


def test_a_broken_file_or_anchor_is_reported():
    """The checker itself: a wrong file and a wrong heading are caught, right ones are not."""
    page = REPO_ROOT / "README.md"
    assert broken_link(page, "docs/troubleshooting.md") is None
    assert broken_link(page, "#prerequisites") is None
    assert broken_link(page, "docs/troubleshooting.md#troubleshooting") is None
    assert "no file" in broken_link(page, "docs/no-such-page.md")
    assert "no heading" in broken_link(page, "#no-such-heading")
    assert "outside" in broken_link(page, "../")


def test_github_slugs():
    assert github_slug("Results: why async, measured") == "results-why-async-measured"
    assert github_slug("Routing: chat/routing.py and as_asgi()") == (
        "routing-chatroutingpy-and-as_asgi"
    )
    assert github_slug("1. Two servers, one chat") == "1-two-servers-one-chat"


# Documents kept for the people who build the workshop, outside the repository. A student
# only ever has the repository, so nothing in it may cite them (the word is split so that
# this file does not cite them either).
OUTSIDE_REFERENCES = re.compile("PIT" + "FALLS|" + r"\.\./shared/|/work/" + "shared")
NOT_THE_REPOSITORY = {".git", ".venv", "_build", "build", "bench-results", "__pycache__"}


def repository_text_files():
    for folder, subfolders, files in os.walk(REPO_ROOT):
        # Prune what is not the repository (a virtual environment, builds, caches) unread.
        subfolders[:] = [
            name
            for name in subfolders
            if name not in NOT_THE_REPOSITORY and not name.endswith((".egg-info", "_cache"))
        ]
        for name in files:
            path = pathlib.Path(folder, name)
            try:
                yield path.relative_to(REPO_ROOT), path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # images and other binary files


def test_nothing_points_outside_the_repository():
    citing = [
        f"{relative}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for relative, text in repository_text_files()
        for match in OUTSIDE_REFERENCES.finditer(text)
    ]
    assert not citing, "these cite documents a student does not have:\n" + "\n".join(citing)
