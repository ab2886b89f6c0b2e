"""The hints of `workshop check`, which are also the rows of docs/troubleshooting.md: each
error text leads to its own hint, filled in from what matched, and the page shows them all."""

import re

import pytest

from tests.test_links import anchors
from workshop.hints import HINTS, TROUBLESHOOTING_PAGE, as_documented, find_hints
from workshop.manifest import REPO_ROOT

WITH_EXAMPLES = [hint for hint in HINTS if hint.example]
# What format() would have replaced: a hint whose text still shows one was never filled in.
PLACEHOLDER = re.compile(r"\{(\d+|method)\}")


def found_where_check_meets_it(hint):
    """What check finds for a failing test of the hint's own kind that shows its example:
    in the failure's text, or (a hint about a kind of test run) in the test's title."""
    if hint.for_test_titled:
        return find_hints("AssertionError: 1 != 2", test=f"Some test {hint.example}")
    return find_hints(f"some output\n{hint.example}\nmore output", capability=hint.for_tests_of)


@pytest.mark.parametrize("hint", WITH_EXAMPLES, ids=[hint.key for hint in WITH_EXAMPLES])
def test_the_exact_error_text_finds_its_hint_and_only_that(hint):
    found = found_where_check_meets_it(hint)
    assert [f.hint.key for f in found] == [hint.key]
    assert found[0].seen.endswith(hint.example)
    for text in (found[0].why, found[0].fix):
        assert not PLACEHOLDER.search(text), f"{hint.key}: not filled in: {text}"
        assert "`" not in text, f"{hint.key}: Markdown left in the terminal text: {text}"


def test_what_matched_fills_the_hint():
    log = (
        "2026-11-22 01:16:49,294 ERROR    "
        "Exception inside application: No handler for message type chat.typo"
    )
    (found,) = find_hints(log)
    assert found.seen == "Exception inside application: No handler for message type chat.typo"
    assert 'sends {"type": "chat.typo"}' in found.why and "chat_typo()" in found.why
    assert '"chat.message" runs chat_message()' in found.fix
    (found,) = find_hints("TypeError: object LobbyConsumer can't be used in 'await' expression")
    assert "write consumers.LobbyConsumer.as_asgi() in chat/routing.py" == found.fix


def test_generic_hints_only_when_nothing_specific_matched():
    assert [f.hint.key for f in find_hints("AssertionError: no frame arrived within 10 s")] == [
        "no-answer"
    ]
    text = "no frame arrived within 10 s\nValueError: No handler for message type chat.typo"
    assert [f.hint.key for f in find_hints(text)] == ["handler-type"]


def test_each_row_shows_its_exact_error_text():
    missing = [hint.key for hint in WITH_EXAMPLES if hint.example not in hint.you_see]
    assert not missing, f"the 'you see' column of these rows lacks the example: {missing}"


def test_the_page_has_a_row_for_every_hint_filled_from_its_example():
    page = REPO_ROOT / TROUBLESHOOTING_PAGE
    text = page.read_text(encoding="utf-8")
    assert {hint.key for hint in HINTS} <= anchors(page), "run: python -m workshop docs"
    for hint in HINTS:
        why, fix = as_documented(hint)
        assert not PLACEHOLDER.search(why + fix), f"{hint.key}: not filled in: {why} {fix}"
        assert why in text and fix in text, f"{hint.key}: row is stale; run python -m workshop docs"
    assert "`chat_typo()`" in text  # the handler-type row, filled from its example


def test_keys_are_unique_and_make_anchors():
    keys = [hint.key for hint in HINTS]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"[a-z0-9-]+", key) for key in keys)


def test_a_hint_for_one_capabilitys_tests_is_not_offered_for_another():
    # The own-suite check runs the student's tests against a consumer stripped of its input
    # checks on purpose: its failure always shows KeyError: 'message', whatever failed.
    text = "AssertionError: ... KeyError: 'message' ..."
    assert "bad-input" not in [f.hint.key for f in find_hints(text, capability="student-tests")]
    assert [f.hint.key for f in find_hints(text, capability="input-checks")] == ["bad-input"]


def test_the_postgresql_hint_comes_with_the_postgresql_run_only():
    title = "A later joiner gets the last lines in order once"
    text = "AssertionError: no frame arrived within 10 s"
    (postgresql,) = find_hints(text, test=f"{title} (postgresql)", capability="history")
    assert postgresql.hint.key == "postgresql-run"
    assert postgresql.seen == f"{title} (postgresql)"
    assert "PostgreSQL is not installed" in postgresql.why
    assert "makemigrations --check" in postgresql.fix
    keys = [f.hint.key for f in find_hints(text, test=f"{title} (sqlite)", capability="history")]
    assert keys == ["no-answer"]  # the same failure on SQLite: the generic hint, as before
