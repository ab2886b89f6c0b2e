"""Faults: Redis stops and comes back, a Daphne process dies, a server is told to stop.

Each test starts its own Daphne (and, where Redis is stopped, its own redis-server),
so a fault here never reaches the session's shared server.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from selenium.webdriver.common.by import By
from websockets.exceptions import ConnectionClosed

from tests.chat_client import chat_message, close_code, join, next_frame, notifications_of, say
from tests.pages import chat_log, open_room, post_message, text_of, wait_until_log_contains
from tests.server_state import groups_in_redis
from tests.subjects import NOTIFICATIONS, ROOM_CHAT
from workshop.accounts import BOB
from workshop.processes import wait_until

pytestmark = [pytest.mark.needs("reconnect"), pytest.mark.slow, pytest.mark.subject(*ROOM_CHAT)]

# The close code step 06 sends when the channel layer (Redis) is unreachable.
LAYER_UNAVAILABLE = 4503
# The page waits at most 8 s between attempts, plus the time an attempt takes.
RECONNECT_SECONDS = 20


async def until_the_server_reaches_redis(attempt):
    """Run `attempt` (which opens sockets) until it passes: after Redis restarts, the server's
    connection to it comes back within a few seconds, and until then a new socket may still
    be closed. As the page does, try again, for RECONNECT_SECONDS at most."""
    deadline = time.monotonic() + RECONNECT_SECONDS
    while True:
        try:
            return await attempt()
        except (ConnectionClosed, ConnectionResetError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


# The step's mailbox capacity, as its settings compute it (100 when they name none).
SHOW_CAPACITY = (
    "from django.conf import settings; "
    "print(settings.CHANNEL_LAYERS['default'].get('CONFIG', {}).get('capacity', 100))"
)


def sockets_opened(browser) -> int:
    """How many WebSockets the page has opened so far (tests/reliability/conftest.py)."""
    return browser.execute_script("return window.socketsOpened;")


def test_redis_stopping_closes_sockets_with_4503_and_the_chat_serves_again(
    private_redis, start_server
):
    server = start_server(redis_url=private_redis.url)

    async def scenario():
        async with join(server, "phoenix") as alice, join(server, "phoenix") as bob:
            await say(alice, "before")
            assert await next_frame(bob) == chat_message(server, "before")
            private_redis.stop()
            assert await close_code(alice) == LAYER_UNAVAILABLE
            assert await close_code(bob) == LAYER_UNAVAILABLE
        # While Redis is down, a new socket is accepted and closed at once, with the code.
        async with join(server, "phoenix") as early:
            assert await close_code(early) == LAYER_UNAVAILABLE
        private_redis.start()  # same port: the server's REDIS_URL is right again

        # Until the server's connection to Redis is back, a socket may still be closed
        # with 4503; the page tries again, and so do we.
        async def chat_again():
            async with join(server, "phoenix") as alice, join(server, "phoenix") as bob:
                await say(alice, "after")
                assert await next_frame(bob) == chat_message(server, "after")
                assert await next_frame(alice) == chat_message(server, "after")

        await until_the_server_reaches_redis(chat_again)

    asyncio.run(scenario())
    assert server.running, "Daphne exited when Redis went away"
    log = server.log_text()
    assert "Socket /ws/chat/phoenix/: channel layer unreachable" in log, log[-3000:]
    # No consumer crashed: one line per socket from the chat, never Daphne's traceback of an
    # application error.
    assert "Exception inside application" not in log, log[-3000:]


@pytest.mark.needs("notifications")
@pytest.mark.subject(*NOTIFICATIONS)
def test_redis_stopping_closes_the_notification_socket_with_4503_too(private_redis, start_server):
    # From step 09 each page also has a notification socket: it must notice as well, or a
    # page would wait for notifications that cannot come, and never reconnect.
    server = start_server(redis_url=private_redis.url)

    async def scenario():
        async with notifications_of(server, BOB) as page:
            private_redis.stop()
            assert await close_code(page) == LAYER_UNAVAILABLE
        private_redis.start()

        async def notified_again():
            async with notifications_of(server, BOB) as page:
                pushed = await asyncio.to_thread(server.manage, "notify", BOB.username, "back")
                assert pushed.returncode == 0, pushed.stderr
                assert await next_frame(page) == {"notification": "back"}

        await until_the_server_reaches_redis(notified_again)

    asyncio.run(scenario())
    log = server.log_text()
    assert "Socket /ws/notifications/: channel layer unreachable" in log, log[-3000:]
    assert "Exception inside application" not in log, log[-3000:]


def test_the_page_reconnects_by_itself_after_redis_restarts(
    step, private_redis, start_server, socket_counting_tab
):
    browser = socket_counting_tab
    server = start_server(redis_url=private_redis.url)

    def status() -> str:
        return text_of(browser, "connection-status")

    def wait(condition, message: str, seconds: float = RECONNECT_SECONDS) -> None:
        assert wait_until(condition, seconds, interval=0.2), f"{message}; status: {status()!r}"

    open_room(browser, server, "phoenix")
    send_button = browser.find_element(By.ID, "chat-message-submit")
    assert send_button.is_enabled()

    async def bob_says(text: str) -> None:
        async with join(server, "phoenix") as bob:
            await say(bob, text)
            assert await next_frame(bob) == chat_message(server, text)

    asyncio.run(bob_says("before the restart"))
    wait_until_log_contains(browser, "before the restart")

    def disconnected_and_send_disabled() -> bool:
        # Both in one look: the page tries again every few seconds, and each attempt is
        # accepted and closed at once (4503), so between two looks the page may have been
        # "Connected", with Send enabled, for a moment.
        text, disabled = browser.execute_script(
            "return [document.querySelector('#connection-status').textContent,"
            " document.querySelector('#chat-message-submit').disabled];"
        )
        said_why = "Redis" in text and "Reconnecting in" in text
        return text.startswith("Disconnected (code 4503)") and said_why and disabled

    private_redis.stop()
    wait(disconnected_and_send_disabled, "the page did not say 4503 with Send disabled")
    # Typed while disconnected: Enter does nothing, and the text stays in the box.
    post_message(browser, "typed while Redis was down")
    message_box = browser.find_element(By.ID, "chat-message-input")
    assert message_box.get_property("value") == "typed while Redis was down"

    # A few attempts fail (each one closed with 4503) before Redis is back.
    wait(lambda: sockets_opened(browser) >= 3, "the page made no new attempt while Redis was down")
    private_redis.start()
    wait(lambda: status().startswith("Connected"), "the page did not reconnect by itself")
    assert send_button.is_enabled()

    # Both ways again: from another member to the page, and from the page to that member.
    asyncio.run(bob_says("after the restart"))
    wait_until_log_contains(browser, "after the restart")

    async def bob_hears_the_page() -> dict:
        async with join(server, "phoenix") as bob:
            send_button.click()  # the text kept from before
            return await next_frame(bob)

    assert asyncio.run(bob_hears_the_page()) == chat_message(server, "typed while Redis was down")
    assert message_box.get_property("value") == ""
    assert chat_log(browser).count("before the restart") == 1

    opened = sockets_opened(browser)
    most_alive = browser.execute_script("return window.mostSocketsAlive;")
    assert opened >= 3, f"expected failed attempts while Redis was down, saw {opened} sockets"
    assert most_alive == 1, f"{most_alive} sockets were alive at once"
    assert server.running
    if step.has("notifications"):
        notifications_come_back(browser, server, private_redis)


def notifications_come_back(browser, server, private_redis) -> None:
    """The page's notification socket reconnected too: `notify` shows on it again."""
    # This Redis restarted empty: a user's group (user_<pk>) is there once the page's
    # notification socket has joined it again.
    assert wait_until(
        lambda: groups_in_redis(server, private_redis.url, "user_"), RECONNECT_SECONDS
    ), "the page's notification socket never joined its group again"
    result = server.manage("notify", server.accounts[0].username, "back after the restart")
    assert result.returncode == 0, result.stderr
    assert wait_until(
        lambda: "back after the restart" in text_of(browser, "notification-list"), 5, 0.2
    ), "the notification never showed on the page after the restart"


def test_the_page_reconnects_after_the_server_restarts(start_server, socket_counting_tab):
    browser = socket_counting_tab
    server = start_server()
    open_room(browser, server, "phoenix")
    port = server.port
    server.stop()
    assert wait_until(
        lambda: "Reconnecting in" in text_of(browser, "connection-status"), 10, interval=0.2
    ), text_of(browser, "connection-status")
    # At least one attempt fails while the server is down, before it comes back.
    assert wait_until(lambda: sockets_opened(browser) >= 2, RECONNECT_SECONDS, interval=0.2), (
        "the page made no new attempt while the server was down"
    )
    server.start()  # the same port, so the page's own URL is right again
    assert server.port == port
    assert wait_until(
        lambda: text_of(browser, "connection-status").startswith("Connected"),
        RECONNECT_SECONDS,
        interval=0.2,
    ), text_of(browser, "connection-status")
    post_message(browser, "back again")
    delivered = wait_until(lambda: "back again" in chat_log(browser), 10, interval=0.2)
    most_alive = browser.execute_script("return window.mostSocketsAlive;")
    assert most_alive == 1, f"{most_alive} sockets were alive at once"
    assert delivered, "a message typed after the reconnect never came back"


def kill_one_of_two_and_chat_on(start_server, messages: int | None) -> None:
    """Two Daphne processes share a room; one is killed; a member of the other then sends
    `messages` messages (None: 50 more than the step's mailbox capacity), 50 at a time, and
    every member of the survivor gets each one."""
    doomed = start_server(measure=False)  # killed below: coverage could not save its data
    survivor = start_server()
    past_capacity = messages is None
    if past_capacity:
        shown = survivor.manage("shell", "--verbosity", "0", "-c", SHOW_CAPACITY).stdout
        messages = int(shown) + 50
    texts = [f"still here {n}" for n in range(messages)]

    async def scenario():
        async with (
            join(doomed, "survivors") as doomed_member,
            join(survivor, "survivors") as first,
            join(survivor, "survivors") as second,
        ):
            await say(doomed_member, "across processes")
            for socket in (first, second):
                assert await next_frame(socket) == chat_message(doomed, "across processes")

            doomed.process.kill()
            doomed.process.wait(timeout=10)

            for batch in range(0, len(texts), 50):  # 50 at a time: the survivor's mailbox
                for text in texts[batch : batch + 50]:  # never holds more
                    await say(first, text)
                for socket in (first, second):
                    for text in texts[batch : batch + 50]:
                        assert await next_frame(socket) == chat_message(survivor, text)
            async with join(survivor, "survivors") as newcomer:
                await say(newcomer, "hello after the crash")
                assert await next_frame(second) == chat_message(survivor, "hello after the crash")

    asyncio.run(scenario())
    assert survivor.running
    if past_capacity:  # the dead process's mailbox did fill up (channels_redis says so)
        assert "channels over capacity in group chat_survivors" in survivor.log_text()


def test_killing_one_of_two_daphnes_leaves_the_other_chatting(start_server):
    kill_one_of_two_and_chat_on(start_server, messages=150)


# The dead process's members stay in the group until the group expires (a day), so its
# mailbox fills up: past its capacity, group_send must go on delivering to the live ones.
# Capacity and group_send are the layer's: this runs where it changed (tests/subjects.py).
@pytest.mark.needs("mailbox")
@pytest.mark.subject("chatsite/settings.py::CHANNEL_LAYERS", "requirements.txt::channels-redis")
def test_a_dead_processs_full_mailbox_stops_no_delivery(start_server):
    kill_one_of_two_and_chat_on(start_server, messages=None)


def test_sigterm_right_after_200_clients_leave_stops_the_server_within_10_s(start_server):
    # A bound on shutdown is a correctness property (deploys and restarts wait for it),
    # not a benchmark. A sync consumer's async_to_sync(group_discard) in disconnect
    # has been seen to hang Daphne's shutdown exactly here.
    server = start_server(measure=False)  # stopped by this test, not by the pool
    clients = 200

    async def scenario():
        sockets = [await join(server, "exit") for _ in range(clients)]
        await say(sockets[0], "everyone here")
        for socket in sockets:
            assert await next_frame(socket, timeout=30) == chat_message(server, "everyone here")
        # All 200 leave at once: their disconnect handlers (group_discard) run now.
        await asyncio.gather(*(socket.close() for socket in sockets))

    asyncio.run(scenario())
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except Exception:
        pytest.fail(f"Daphne still ran 30 s after SIGTERM:\n{server.log_text()[-3000:]}")
    took = time.monotonic() - started
    print(f"Daphne exited {took:.2f} s after SIGTERM (exit code {server.process.returncode})")
    assert took < 10, f"Daphne took {took:.1f} s to exit after SIGTERM"
