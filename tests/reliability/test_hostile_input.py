"""Hostile clients: bad frames, huge frames, broken UTF-8, a flood, odd room names,
foreign pages, and HTML where text belongs. None of it may break other members.

What each case gets (the contract; docs/guarantees.md):

- a frame the chat refuses (step 05's rules, and a lone surrogate): an {"error": ...}
  reply on that socket alone; nothing is broadcast; the socket stays open;
- a frame over Daphne's 1 MiB limit, or a text frame that is not UTF-8: Daphne drops
  that connection (the client sees 1006, no close frame); nobody else notices;
- a flood: never reordered, never duplicated (the servers here raise step 07's rate limit,
  which tests/acceptance/test_rate_limit.py tests); past a server process's
  mailbox capacity (channels_redis' default: 100 messages) the excess is dropped, and from
  the step that takes a burst (step 06 makes it 1,500) every message is delivered;
  the flooder stays connected and the others are still served;
- a room name outside the rule: a 404 page that explains it, and a refused socket (403,
  never a server error: tests/chat_client.py fails any handshake that gets a 5xx);
- a socket from a page of another site, or with no Origin: refused (403).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait
from websockets.exceptions import ConnectionClosed

from tests.acceptance.test_input_checks import BAD_FRAMES
from tests.acceptance.test_websocket import http_status, room_page_path
from tests.chat_client import (
    chat_message,
    handshake_refusal,
    is_history,
    join,
    next_frame,
    nothing_arrives,
    notifications_of,
    path_refusal,
    say,
)
from tests.pages import open_page, open_room, post_message, text_of, wait_until_log_contains
from tests.subjects import ROOM_CHAT
from tests.task_client import logs_socket
from workshop.accounts import ALICE

pytestmark = [pytest.mark.needs("hostile-input"), pytest.mark.subject(*ROOM_CHAT)]

MEBIBYTE = 1024 * 1024

# Step 05's bad frames, and what else a hostile client sends.
HOSTILE_FRAMES = {
    **BAD_FRAMES,
    "message null": json.dumps({"message": None}),
    "message a list": json.dumps({"message": ["hi"]}),
    "lone surrogate": '{"message": "\\ud800"}',  # JSON may spell half a character
    "JSON nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a JSON string, not an object": json.dumps("hello"),
    "just under 1 MiB of text": "x" * (MEBIBYTE - 1000),
}


async def closed_by_server(socket, timeout: float = 10.0) -> int:
    """Wait until the server ends the connection; return the close code the client saw.
    Any frame but the room's history (sent on joining, from step 08) fails the test."""
    try:
        async with asyncio.timeout(timeout):
            frame = await socket.recv()
            while is_history(json.loads(frame)):
                frame = await socket.recv()
    except ConnectionClosed:
        return socket.close_code
    raise AssertionError(f"expected the connection to end, received {frame!r}")


async def room_still_works(server, room: str) -> None:
    async with join(server, room) as first, join(server, room) as second:
        await say(first, "the room still works")
        assert await next_frame(second) == chat_message(server, "the room still works")


def test_every_hostile_frame_is_answered_and_other_members_chat_on(server):
    async def scenario():
        async with (
            join(server, "hostile") as attacker,
            join(server, "hostile") as alice,
            join(server, "hostile") as bob,
        ):
            for name, frame in HOSTILE_FRAMES.items():
                await attacker.send(frame)
                try:
                    reply = await next_frame(attacker)
                except ConnectionClosed as closed:
                    raise AssertionError(
                        f"{name}: the server closed the socket ({closed})"
                    ) from None
                assert set(reply) == {"error"} and reply["error"], f"{name}: {reply}"
                # Members between the bad frames: they hear each other, and nothing else.
                await say(alice, f"after {name}")
                for socket in (alice, bob, attacker):
                    assert await next_frame(socket) == chat_message(server, f"after {name}"), name
            assert await nothing_arrives(bob, seconds=0.3)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "send_it",
    [
        pytest.param(lambda ws: ws.send(json.dumps({"message": "x" * 2 * MEBIBYTE})), id="2MB"),
        pytest.param(lambda ws: ws.send(b'{"message": "\xff\xfe"}', text=True), id="bad-UTF-8"),
    ],
)
def test_a_frame_daphne_cannot_take_ends_only_that_connection(server, send_it):
    # Daphne refuses frames over 1 MiB (websocket_max_message_size) and text that
    # is not UTF-8 by dropping the TCP connection: the client sees 1006 and no reason.
    async def scenario():
        async with join(server, "big") as bystander:
            async with join(server, "big") as attacker:
                await send_it(attacker)
                assert await closed_by_server(attacker) == 1006
            assert await nothing_arrives(bystander, seconds=0.3)
            await room_still_works(server, "big")

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_flood_of_1000_messages_from_one_client_leaves_the_others_served(step, start_server):
    # No rate limit: never reordered or repeated; dropped past a mailbox capacity only, so
    # all of it arrives on a step that takes a burst. The flooder stays connected, and the
    # others are served during the flood, not after it.
    server = start_server(measure=False)
    flood = [f"flood {n}" for n in range(1000)]
    during = "alice, during the flood"

    async def scenario():
        async with (
            join(server, "flooded") as flooder,
            join(server, "flooded") as alice,
            join(server, "flooded") as bob,
        ):
            heard = {"alice": [], "bob": []}
            flood_under_way = asyncio.Event()

            async def listen(name, socket):
                # Until both the flood's last message and alice's have come, or 5 s of quiet.
                while not {flood[-1], during} <= set(heard[name]):
                    try:
                        frame = await next_frame(socket, timeout=5)
                    except AssertionError:
                        return
                    heard[name].append(frame["message"])
                    if len(heard[name]) == 100:
                        flood_under_way.set()

            listeners = [
                asyncio.create_task(listen("alice", alice)),
                asyncio.create_task(listen("bob", bob)),
            ]
            for text in flood:  # as fast as the socket takes them, reading nothing
                await say(flooder, text)
            await asyncio.wait_for(flood_under_way.wait(), 30)
            await say(alice, during)
            await asyncio.gather(*listeners)
            await say(flooder, "flood over")  # still connected: this would raise otherwise
            # The flooder read nothing: its client holds a few frames and leaves the rest
            # unread in the connection, behind which the server's close frame would wait
            # out the close timeout (10 s). It reads them, its own last message too.
            while (await next_frame(flooder))["message"] != "flood over":
                pass
            return heard

    heard = asyncio.run(scenario())
    for name, texts in heard.items():
        assert during in texts, f"{name} never heard alice during the flood"
        flood_heard = [int(text.split()[1]) for text in texts if text.startswith("flood ")]
        assert flood_heard == sorted(set(flood_heard)), f"{name} heard the flood out of order"
        # Served during the flood: alice's message came before the flood had ended.
        assert texts.index(during) < len(texts) - 1, f"{name} heard alice only after the flood"
        print(f"{name} heard {len(flood_heard)} of {len(flood)}; alice's at {texts.index(during)}")
        if step.has("burst"):
            assert len(flood_heard) == len(flood), f"{name} lost part of the flood"
    assert server.running


# Room names that break the rule (chat/rooms.py), as a hostile link would spell them.
HOSTILE_ROOM_PATHS = {
    "unicode": urllib.parse.quote("café-聊天"),
    "spaces": urllib.parse.quote("two words"),
    "200 characters": "x" * 200,
    "dot-dot-slash": "..",
    "encoded slash": "%2F",
    "encoded path climb": "..%2F..%2Fadmin",
    "encoded script": urllib.parse.quote("</script>", safe=""),
}


@pytest.mark.parametrize("path", HOSTILE_ROOM_PATHS.values(), ids=HOSTILE_ROOM_PATHS.keys())
def test_a_room_name_outside_the_rule_gets_an_explanation_and_no_socket(server, path):
    status, page = http_status(server, f"/chat/{path}/")
    assert status == 404, status
    assert "is not a room name" in page

    assert path_refusal(server, f"/ws/chat/{path}/") == 403, f"the socket for /ws/chat/{path}/"
    asyncio.run(room_still_works(server, "lobby"))


FOREIGN_ORIGINS = {
    "another site": "http://evil.example",
    "no Origin header": None,
    "a file or sandboxed page": "null",
    "a look-alike host": "http://127.0.0.1.evil.example",
    "our host in the path": "http://evil.example/127.0.0.1",
}


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS.values(), ids=FOREIGN_ORIGINS.keys())
def test_a_socket_from_a_foreign_page_is_refused(server, origin):
    assert handshake_refusal(server, "lobby", origin=origin) == 403


def assert_no_dialog(browser, seconds: float = 1.0) -> None:
    """Fail if an alert() dialog opens within `seconds` (an onerror needs a moment)."""
    try:
        WebDriverWait(browser, seconds).until(expected_conditions.alert_is_present())
    except TimeoutException:
        return
    alert = browser.switch_to.alert
    text = alert.text
    alert.dismiss()
    raise AssertionError(f"a dialog opened: {text!r}: the page ran the attacker's script")


def test_html_in_a_message_and_in_a_room_name_is_shown_as_text(server, browser):
    attack = "<img src=x onerror=alert(1)>"
    open_room(browser, server, "xss")
    post_message(browser, attack)
    assert_no_dialog(browser)
    wait_until_log_contains(browser, attack)  # shown as the text it is
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []

    hostile = "</script><script>alert(2)</script>"
    open_page(browser, server, room_page_path(hostile))
    assert_no_dialog(browser)
    assert hostile in text_of(browser, "room-name-error")
    assert browser.find_elements(By.ID, "chat-log") == []  # the index page, not a room


@pytest.mark.needs("notifications")
@pytest.mark.subject("chat/consumers.py")  # every step: a second or two, and each step's copy
def test_a_notification_socket_answers_every_frame_and_stays_open(server):
    # It takes no frames: each is answered with an error, as the room answers a bad one.
    async def scenario():
        async with notifications_of(server, ALICE) as page:
            for name, text in HOSTILE_FRAMES.items():
                await page.send(text)
                reply = await next_frame(page, raw=True)
                assert set(reply) == {"error"} and reply["error"], f"{name}: {reply}"
            result = await asyncio.to_thread(server.manage, "notify", ALICE.username, "still here")
            assert result.returncode == 0, result.stderr
            assert await next_frame(page, raw=True) == {"notification": "still here"}

    asyncio.run(scenario())


@pytest.mark.needs("tasks")
@pytest.mark.subject("chat/consumers.py::LayerAwareConsumer", "chat/consumers.py::LogConsumer")
def test_a_log_socket_answers_every_frame_and_stays_open(server):
    async def scenario():
        async with logs_socket(server, "access") as page:
            for name, text in HOSTILE_FRAMES.items():
                await page.send(text)
                reply = await next_frame(page, raw=True)
                while "state" in reply:  # a worker of another test may run the page's job
                    reply = await next_frame(page, raw=True)
                assert set(reply) == {"error"} and reply["error"], f"{name}: {reply}"
            await page.send("and one more")  # still open: answered, not closed
            reply = await next_frame(page, raw=True)
            assert "error" in reply or "state" in reply, reply

    asyncio.run(scenario())
