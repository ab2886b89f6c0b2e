"""Consecutive steps differ only where the lesson is, and the docs say exactly where."""

import re

import pytest

from workshop.commands.docs import BEGIN, END, generated_readmes
from workshop.diffing import step_changes
from workshop.manifest import load_steps

STEPS = load_steps()


@pytest.mark.parametrize("step", STEPS, ids=[s.label for s in STEPS])
def test_the_manifest_lists_exactly_the_files_the_step_changed(step):
    actual = set(step_changes(STEPS, step))
    listed = set(step.changed)
    assert actual == listed, (
        f"{step.folder}: changed but not in steps.toml: {sorted(actual - listed)}; "
        f"in steps.toml but unchanged: {sorted(listed - actual)}"
    )


def readme_listed_files(readme_text: str) -> set[str]:
    """The files a README's "What changed" section lists."""
    section = readme_text.split("## What changed", 1)[1]
    begin = BEGIN.format(name="what-changed")
    block = section.split(begin, 1)[1].split(END.format(name="what-changed"), 1)[0]
    listing = block.split("<details>", 1)[0]
    return set(re.findall(r"^- `([^`]+)`", listing, flags=re.MULTILINE))


@pytest.mark.parametrize("step", STEPS, ids=[s.label for s in STEPS])
def test_the_readme_lists_exactly_the_files_the_step_changed(step):
    text = (step.path / "README.md").read_text(encoding="utf-8")
    assert "## What changed" in text, f"{step.folder}/README.md has no 'What changed' section"
    listed = readme_listed_files(text)
    actual = set(step_changes(STEPS, step))
    assert listed == actual, (
        f"{step.folder}/README.md: changed but not listed: {sorted(actual - listed)}; "
        f"listed but unchanged: {sorted(listed - actual)}. Run: python -m workshop docs"
    )


def test_every_generated_readme_section_is_current():
    stale = [
        str(path)
        for path, text in generated_readmes().items()
        if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"stale generated sections in {stale}; run: python -m workshop docs"


def test_every_step_readme_has_the_lesson_sections_in_order():
    sections = [
        "Goal and timing", "Objectives", "What changed", "Run it", "Try it", "How it works",
        "Exercises", "Known limitations", "Key points", "Next",
    ]  # fmt: skip
    for step in STEPS:
        text = (step.path / "README.md").read_text(encoding="utf-8")
        found = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
        assert [s for s in found if s in sections] == sections, f"{step.folder}: {found}"
        timing = f"Teaching: {step.teach} min · Exercises: {step.exercise} min"
        assert timing in text, f"{step.folder}/README.md must say '{timing}' (steps.toml)"
