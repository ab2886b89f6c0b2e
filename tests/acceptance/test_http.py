"""Every step: the index page, and the room-name rule as a student meets it."""

import pytest
from selenium.webdriver.common.by import By

from tests.pages import enter_room_from_index, open_page, text_of, wait_for
from workshop.accounts import fetch, session_for

pytestmark = pytest.mark.needs("http")

# (name, allowed?) by the rule in chat/rooms.py.
ROOM_NAMES = [
    ("lobby", True),
    ("Room-2.b_c", True),
    ("9", True),
    ("x" * 94, True),
    ("x" * 95, False),
    ("two words", False),
    ("café", False),
    ("-leading-dash", False),
    ("..", False),
    ('quote"s', False),
]


def test_index_page_renders(server):
    status, _, page = fetch(server.url + "/chat/", session_for(server))
    assert status == 200
    for element_id in ("room-name-input", "room-name-submit"):
        assert f'id="{element_id}"' in page


def test_typing_a_room_name_and_enter_opens_the_room(server, browser):
    enter_room_from_index(browser, server, "lobby")
    wait_for(
        browser,
        lambda: browser.current_url == f"{server.url}/chat/lobby/",
        f"Enter on the index page went to {browser.current_url}, not /chat/lobby/",
    )


def test_the_room_input_has_focus_on_load(server, browser):
    open_page(browser, server, "/chat/")
    assert browser.switch_to.active_element.get_attribute("id") == "room-name-input"


def test_a_refused_name_is_explained_on_the_index_page(server, browser):
    enter_room_from_index(browser, server, "two words")
    wait_for(
        browser,
        lambda: "is not a room name" in text_of(browser, "room-name-error"),
        "the index page did not explain why 'two words' was refused",
    )
    assert browser.current_url == f"{server.url}/chat/"
    assert "letters" in text_of(browser, "room-name-error")  # the rule itself is shown


def test_the_page_checks_names_with_the_servers_rule(server, browser):
    open_page(browser, server, "/chat/")
    name_input = browser.find_element(By.ID, "room-name-input")
    for name, allowed in ROOM_NAMES:
        verdict = browser.execute_script(
            "const input = arguments[0]; input.value = arguments[1];return input.checkValidity();",
            name_input,
            name,
        )
        # maxlength only stops typing, not a value set by script: the pattern must refuse it.
        assert verdict == allowed, f"the index page {'refuses' if allowed else 'allows'} {name!r}"
