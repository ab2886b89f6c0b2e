"""From step 03: rooms are channel-layer groups in Redis, shared across processes."""

import asyncio
import contextlib

import pytest

from tests.chat_client import join, next_frame, nothing_arrives, say
from tests.pages import open_room, open_room_in_new_window, post_message, wait_until_log_contains

pytestmark = pytest.mark.needs("groups")


def test_members_of_a_room_see_each_other_and_other_rooms_see_nothing(server):
    async def scenario():
        async with (
            join(server, "lobby") as alice,
            join(server, "lobby") as bob,
            join(server, "kitchen") as carol,
        ):
            await say(alice, "hi bob")
            assert await next_frame(bob) == {"message": "hi bob"}
            assert await next_frame(alice) == {"message": "hi bob"}
            await say(bob, "hi alice")
            assert await next_frame(alice) == {"message": "hi alice"}
            assert await next_frame(bob) == {"message": "hi alice"}
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


@pytest.mark.slow
def test_an_idle_socket_still_receives_after_15_seconds(server):
    # redis-py 8 cut idle sockets off after about 5 s (PITFALLS 0): this catches it coming back.
    async def scenario():
        async with join(server, "idle-room") as idle:
            await asyncio.sleep(15)
            async with join(server, "idle-room") as talker:
                await say(talker, "are you still there?")
                assert await next_frame(idle) == {"message": "are you still there?"}

    asyncio.run(scenario())


def test_two_daphne_processes_share_rooms_through_redis(server, start_server):
    other = start_server()
    assert other.port != server.port

    async def scenario():
        async with join(server, "scale-out") as here, join(other, "scale-out") as there:
            await say(here, "across processes")
            assert await next_frame(there) == {"message": "across processes"}
            await say(there, "and back")
            assert await next_frame(here) == {"message": "across processes"}
            assert await next_frame(here) == {"message": "and back"}

    asyncio.run(scenario())


@pytest.mark.slow
def test_fifty_clients_a_hundred_messages_each_all_delivered_in_order(start_server):
    server = start_server(measure=False)  # a load test: coverage tracing would only slow it
    # Sent in rounds: every client sends one message, then all wait for that round.
    # channels_redis keeps one queue in Redis per server process for the group
    # messages of all its consumers, capped at 100 (the default capacity); clients that
    # blast faster than the process reads overflow it, and group_send then drops
    # messages by design. Counted here, never timed.
    clients, rounds = 50, 100
    sent_by = {client: [f"{client}:{n}" for n in range(rounds)] for client in range(clients)}

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(join(server, "crowd")) for _ in sent_by]
            received = [[] for _ in sockets]

            async def read_round(index, socket):
                for _ in range(clients):
                    received[index].append((await next_frame(socket, timeout=60))["message"])

            for n in range(rounds):
                await asyncio.gather(*(say(s, sent_by[c][n]) for c, s in enumerate(sockets)))
                await asyncio.gather(*(read_round(i, s) for i, s in enumerate(sockets)))
            for socket in sockets:
                assert await nothing_arrives(socket, seconds=0.1)  # nothing extra
            return received

    received = asyncio.run(scenario())
    total = clients * rounds
    for index, log in enumerate(received):
        assert len(log) == total, f"client {index} got {len(log)} of {total} messages"
        for client, texts in sent_by.items():
            from_client = [text for text in log if text.startswith(f"{client}:")]
            assert from_client == texts, f"client {index}: messages of {client} lost or reordered"
