"""From step 02: the room page, a real WebSocket, the origin check, refused names."""

import asyncio
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from websockets.exceptions import InvalidStatus

from tests.acceptance.test_http import ROOM_NAMES
from tests.chat_client import (
    chat_message,
    handshake_refusal,
    join,
    next_frame,
    path_refusal,
    say,
)
from tests.pages import (
    open_page,
    open_room,
    post_message,
    text_of,
    wait_for,
    wait_until_log_contains,
)
from workshop.accounts import fetch, session_for

pytestmark = pytest.mark.needs("websocket")


def http_status(server, path: str) -> tuple[int, str]:
    """GET a page of the step (logged in, on a step with users): its status and text."""
    status, _, page = fetch(server.url + path, session_for(server))
    return status, page


def room_page_path(name: str) -> str:
    return f"/chat/{urllib.parse.quote(name, safe='')}/"


async def socket_opens(server, name: str) -> bool:
    try:
        async with join(server, urllib.parse.quote(name, safe="")):
            return True
    except InvalidStatus:
        return False


def test_a_message_comes_back_over_a_real_websocket(server):
    async def scenario():
        async with join(server, "lobby") as socket:
            await say(socket, "hello, échos & <b>")
            return await next_frame(socket)

    assert asyncio.run(scenario()) == chat_message(server, "hello, échos & <b>")


def test_a_typed_message_appears_in_the_chat_log(server, browser):
    open_room(browser, server, "lobby")
    post_message(browser, "typed in a browser")
    wait_until_log_contains(browser, "typed in a browser")
    assert browser.find_element(By.ID, "chat-message-input").get_property("value") == ""


def test_a_socket_from_a_foreign_origin_is_refused(server):
    assert handshake_refusal(server, "lobby", origin="http://evil.example") == 403


def test_a_socket_without_an_origin_is_refused(server):
    assert handshake_refusal(server, "lobby", origin=None) == 403


def test_page_and_socket_accept_the_same_room_names(server):
    for name, allowed in ROOM_NAMES:
        status, _ = http_status(server, room_page_path(name))
        assert (status == 200) == allowed, f"/chat/{name}/ answered {status}"
        assert asyncio.run(socket_opens(server, name)) == allowed, f"socket for {name!r}"


# Socket paths no route accepts, as a typo or a hand-made client spells them.
PATHS_WITHOUT_A_ROOM = {
    "cyrillic room name": "/ws/chat/" + urllib.parse.quote("привет") + "/",
    "a space": "/ws/chat/a%20b/",
    "95 characters": "/ws/chat/" + "r" * 95 + "/",
    "150 characters": "/ws/chat/" + "r" * 150 + "/",
    "no room": "/ws/chat//",
    "no trailing slash": "/ws/chat/lobby",
    "unknown path": "/ws/unknown/",
    "the root": "/",
}


def test_a_socket_for_a_path_without_a_room_is_refused_without_a_server_error(server):
    log_before = len(server.log_text())
    for name, path in PATHS_WITHOUT_A_ROOM.items():
        assert path_refusal(server, path) == 403, f"{name}: {path}"
    log = server.log_text()[log_before:]
    # A client's mistake: refused, at most a line each, never a traceback.
    assert "Traceback" not in log and "No route found" not in log, log[-3000:]


def test_a_refused_room_page_says_why(server):
    status, page = http_status(server, room_page_path("two words"))
    assert status == 404
    assert "is not a room name" in page
    assert "letters" in page  # the rule, not just "no"


def test_a_hostile_room_name_is_shown_as_text(server, browser):
    hostile = 'x"><i id="injected">boom</i><script>alert(1)</script>'
    status, page = http_status(server, room_page_path(hostile))
    assert status == 404
    assert '<i id="injected">' not in page
    open_page(browser, server, room_page_path(hostile))
    assert browser.find_elements(By.ID, "injected") == []
    assert hostile in text_of(browser, "room-name-error")


def test_the_room_name_is_embedded_as_json(server, browser):
    open_room(browser, server, "Room-2.b_c")
    embedded = browser.execute_script(
        "return JSON.parse(document.getElementById('room-name').textContent);"
    )
    assert embedded == "Room-2.b_c"
    assert '"Room-2.b_c"' in text_of(browser, "connection-status")


def test_the_page_shows_when_the_server_goes_away(start_server, browser):
    own_server = start_server()  # not the shared one: this test stops it
    open_room(browser, own_server, "lobby")
    own_server.stop()
    wait_for(
        browser,
        lambda: text_of(browser, "connection-status").startswith("Disconnected"),
        "the page did not show that its socket closed",
    )
