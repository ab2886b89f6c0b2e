"""From step 03: rooms are channel-layer groups in Redis, shared across processes."""

import asyncio

import pytest

from tests.chat_client import (
    CROWD_ROUNDS,
    assert_all_delivered_in_order,
    chat_in_rounds,
    chat_message,
    join,
    next_frame,
    nothing_arrives,
    say,
)
from tests.pages import open_room, open_room_in_new_window, post_message, wait_until_log_contains
from tests.stored_messages import assert_stored_once
from tests.subjects import ROOM_CHAT

pytestmark = pytest.mark.needs("groups")


def test_members_of_a_room_see_each_other_and_other_rooms_see_nothing(server):
    async def scenario():
        async with (
            join(server, "lobby") as alice,
            join(server, "lobby") as bob,
            join(server, "kitchen") as carol,
        ):
            await say(alice, "hi bob")
            assert await next_frame(bob) == chat_message(server, "hi bob")
            assert await next_frame(alice) == chat_message(server, "hi bob")
            await say(bob, "hi alice")
            assert await next_frame(alice) == chat_message(server, "hi alice")
            assert await next_frame(bob) == chat_message(server, "hi alice")
            assert await nothing_arrives(carol, seconds=1.0)

    asyncio.run(scenario())


def test_two_browser_windows_in_one_room_talk(server, browser):
    open_room(browser, server, "room_1")
    first = browser.current_window_handle
    open_room_in_new_window(browser, server, "room_1")
    second = browser.current_window_handle
    open_room_in_new_window(browser, server, "room_2")
    elsewhere = browser.current_window_handle

    browser.switch_to.window(first)
    post_message(browser, "hello from the first window")
    wait_until_log_contains(browser, "hello from the first window")
    browser.switch_to.window(second)
    wait_until_log_contains(browser, "hello from the first window")

    browser.switch_to.window(elsewhere)
    post_message(browser, "room 2 speaking")
    wait_until_log_contains(browser, "room 2 speaking")
    assert "hello from the first window" not in browser.find_element("id", "chat-log").get_property(
        "value"
    )


def test_two_daphne_processes_share_rooms_through_redis(server, start_server):
    other = start_server()
    assert other.port != server.port

    async def scenario():
        async with join(server, "scale-out") as here, join(other, "scale-out") as there:
            await say(here, "across processes")
            assert await next_frame(there) == chat_message(server, "across processes")
            await say(there, "and back")
            assert await next_frame(here) == chat_message(server, "across processes")
            assert await next_frame(here) == chat_message(other, "and back")

    asyncio.run(scenario())


@pytest.mark.slow
@pytest.mark.subject(
    *ROOM_CHAT
)  # heavy: where the room changed; the tests above are its smoke test
def test_a_crowded_room_gets_every_message_in_order_per_sender(step, start_server):
    server = start_server(measure=False)  # a load test: coverage tracing would only slow it
    # Messages go in rounds (see chat_in_rounds), every delivery counted, never timed.
    # The steps that take a burst (tests/reliability/test_load.py) get the big room:
    # 200 clients, 40 senders at once; the others 50 clients, 10 senders.
    clients, senders = (200, 40) if step.has("burst") else (50, 10)
    sent_by, received = asyncio.run(
        chat_in_rounds(server, "crowd", clients=clients, senders=senders, rounds=CROWD_ROUNDS)
    )
    assert_all_delivered_in_order(sent_by, received)
    if step.has("history"):  # step 08 on: and each message stored once
        assert_stored_once(server, "crowd", sent_by)
