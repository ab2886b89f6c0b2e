"""The hint table of `workshop check`: each error text leads to its own hint, and the
README's troubleshooting table shows every one of those texts."""

import pytest

from workshop.hints import HINTS, find_hints
from workshop.manifest import REPO_ROOT

WITH_EXAMPLES = [hint for hint in HINTS if hint.example]


@pytest.mark.parametrize("hint", WITH_EXAMPLES, ids=[hint.key for hint in WITH_EXAMPLES])
def test_the_exact_error_text_finds_its_hint_and_only_that(hint):
    found = find_hints(f"some output\n{hint.example}\nmore output")
    assert [f.hint.key for f in found] == [hint.key]
    assert found[0].seen == hint.example
    assert "{" not in found[0].cause.replace("{{", "") or '"' in found[0].cause


def test_a_log_line_is_shown_without_its_timestamp():
    log = (
        "2026-11-22 01:16:49,294 ERROR    "
        "Exception inside application: No handler for message type chat.typo"
    )
    (found,) = find_hints(log)
    assert found.seen == "Exception inside application: No handler for message type chat.typo"
    assert "chat_typo()" in found.cause and "chat_message()" in found.fix


def test_generic_hints_only_when_nothing_specific_matched():
    assert [f.hint.key for f in find_hints("AssertionError: no frame arrived within 10 s")] == [
        "no-answer"
    ]
    text = "no frame arrived within 10 s\nValueError: No handler for message type chat.typo"
    assert [f.hint.key for f in find_hints(text)] == ["handler-type"]


def test_the_troubleshooting_table_has_every_error_text():
    page = (REPO_ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    missing = [hint.example for hint in WITH_EXAMPLES if hint.example not in page]
    assert not missing, f"add these error texts to docs/troubleshooting.md's table: {missing}"
