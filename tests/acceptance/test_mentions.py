"""From step 10: "@name" in a room notifies that user, through a worker process.

The room's consumer puts a job on the channel "mentions" of the channel layer; a real
`manage.py runworker mentions` process reads it, finds the users and pushes to their
notification sockets (test_notifications.py). On Channels' default layer a job waits in
Redis until a worker reads it, and each job goes to one worker; on the pub/sub layer (the
keeping-up step) every worker gets it and the first to claim it does it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from selenium.webdriver.common.by import By

from tests.chat_client import join, next_frame, nothing_arrives, notifications_of, say
from tests.pages import log_in_as, post_message, text_of, wait_for
from tests.server_state import on_pubsub_layer, subscribers
from tests.subjects import MENTIONS as MENTION_PARTS
from workshop.accounts import ALICE, BOB, STUDENT, session_for
from workshop.processes import wait_until

pytestmark = pytest.mark.needs("worker")

# How long a mention may take to reach a page, through the worker.
DELIVERY_SECONDS = 5.0
# How long a page that must get nothing is watched.
QUIET_SECONDS = 1.0


def new_room() -> str:
    return f"mention-{uuid.uuid4().hex[:8]}"


def mentioned(sender, room: str, text: str) -> dict:
    """The frame a mentioned user's notification socket gets (chat/mentions.py)."""
    return {"notification": f'{sender.username} mentioned you in room "{room}": {text}'}


def test_a_mention_notifies_that_user_only(server, mentions_worker):
    room = new_room()
    text = f"hi @{BOB.username}, and @{ALICE.username} and @nobody-at-all"

    async def scenario():
        async with (
            notifications_of(server, BOB) as bob,
            notifications_of(server, STUDENT) as third,
            notifications_of(server, ALICE) as alices_page,
            join(server, room, session=session_for(server, ALICE)) as alice,
        ):
            await next_frame(alice, raw=True)  # the (empty) history
            await say(alice, text)
            assert await next_frame(bob, timeout=DELIVERY_SECONDS) == mentioned(ALICE, room, text)
            for socket in (third, alices_page):  # someone not named, and oneself
                assert await nothing_arrives(socket, QUIET_SECONDS, raw=True)
            assert (await next_frame(alice))["message"] == text
            # The sender gets its message and nothing else.
            assert await nothing_arrives(alice, QUIET_SECONDS, raw=True)
            assert await nothing_arrives(bob, QUIET_SECONDS, raw=True)  # once

    asyncio.run(scenario())


@pytest.mark.subject(*MENTION_PARTS)  # where the mentions changed; the first test runs everywhere
def test_without_a_worker_the_room_goes_on_and_a_worker_started_later_delivers(
    server, mentions_worker
):
    # On the default layer the job waits in Redis (up to the layer's expiry, 60 s) and the
    # worker that starts later finds it. On the pub/sub layer (the keeping-up step) nobody
    # keeps it: a job sent while no worker listens is lost, and the later ones arrive.
    mentions_worker.stop()
    room = new_room()
    waiting, later = f"are you there @{BOB.username}?", f"and now @{BOB.username}?"
    kept = not on_pubsub_layer(server)

    async def scenario():
        async with (
            notifications_of(server, BOB) as bob,
            join(server, room, session=session_for(server, ALICE)) as alice,
        ):
            await next_frame(alice, raw=True)
            await say(alice, waiting)
            assert (await next_frame(alice))["message"] == waiting  # the room is not held up
            assert await nothing_arrives(bob, 2, raw=True)  # nobody reads the job yet
            await asyncio.to_thread(mentions_worker.start)
            if not kept:  # it listens a moment after it says it runs: wait for that
                assert await asyncio.to_thread(
                    wait_until, lambda: subscribers(server, "mentions") >= 1, 10.0
                ), "the worker never subscribed to its channel"
            if kept:
                expected = mentioned(ALICE, room, waiting)
                assert await next_frame(bob, timeout=DELIVERY_SECONDS) == expected
            await say(alice, later)
            expected = mentioned(ALICE, room, later)
            assert await next_frame(bob, timeout=DELIVERY_SECONDS) == expected
            assert (await next_frame(alice))["message"] == later
            assert await nothing_arrives(alice, QUIET_SECONDS, raw=True)
            assert await nothing_arrives(bob, QUIET_SECONDS, raw=True)

    asyncio.run(scenario())


MENTIONS = 10


@pytest.mark.subject(*MENTION_PARTS)  # where the mentions changed; the first test runs everywhere
def test_two_workers_deliver_each_mention_exactly_once(
    server, mentions_worker, start_mentions_worker
):
    # A second worker beside the first, as a busy chat would start one: each job goes to one
    # of them. (A layer that gave every worker a copy would notify bob twice each time.)
    # One mention at a time, as people type them. Not a burst: two workers reading one
    # channel of this layer then both handle a job now and then (channels_redis issue 163:
    # a worker parks the job it read in the channel's one "in flight" list until done, and
    # another worker's next read first puts that list back into the channel). A burst of
    # 20 mentions at once notified bob twice of one of them in 3 runs of 12, here.
    start_mentions_worker()
    room = new_room()
    texts = [f"@{BOB.username} number {n}" for n in range(MENTIONS)]

    async def scenario():
        async with (
            notifications_of(server, BOB) as bob,
            join(server, room, session=session_for(server, ALICE)) as alice,
        ):
            await next_frame(alice, raw=True)
            for text in texts:
                await say(alice, text)
                assert await next_frame(bob, DELIVERY_SECONDS) == mentioned(ALICE, room, text)
            assert await nothing_arrives(bob, QUIET_SECONDS, raw=True)

    asyncio.run(scenario())


@pytest.mark.subject(*MENTION_PARTS)  # where the mentions changed; the first test runs everywhere
def test_a_mention_shows_on_the_other_users_page_as_text(
    server, mentions_worker, any_users_browser, second_browser
):
    browser = any_users_browser
    room = new_room()
    log_in_as(second_browser, server, BOB, "/chat/")  # bob is on another page
    log_in_as(browser, server, ALICE, f"/chat/{room}/")
    wait_for(
        browser,
        lambda: text_of(browser, "connection-status").startswith("Connected"),
        "alice's room page never said Connected",
    )
    # Markup in a notification must show as text, never run.
    post_message(browser, f"@{BOB.username} look <b>here</b>")
    wait_for(
        second_browser,
        lambda: "look <b>here</b>" in text_of(second_browser, "notification-list"),
        "the mention never showed on bob's page",
    )
    assert text_of(second_browser, "notification-count") == "1"
    assert not second_browser.find_elements(By.CSS_SELECTOR, "#notification-list b")
    # Alice mentioned bob, not herself: her own page shows no notification.
    assert text_of(browser, "notification-count") == "0"


@pytest.mark.subject(*MENTION_PARTS)
def test_a_message_notifies_at_most_five_of_the_names_it_mentions(server, mentions_worker):
    # Five names nobody has, then bob's: he is the sixth, and not notified. The message
    # itself reaches the room whole.
    room = new_room()
    text = " ".join(f"@ghost{n}" for n in range(5)) + f" and @{BOB.username}"

    async def scenario():
        async with (
            notifications_of(server, BOB) as bob,
            join(server, room, session=session_for(server, ALICE)) as alice,
        ):
            await next_frame(alice, raw=True)  # the (empty) history
            await say(alice, text)
            assert (await next_frame(alice))["message"] == text
            assert await nothing_arrives(bob, DELIVERY_SECONDS, raw=True)
            await say(alice, f"only @{BOB.username}")  # the worker is there, and on time
            expected = mentioned(ALICE, room, f"only @{BOB.username}")
            assert await next_frame(bob, timeout=DELIVERY_SECONDS) == expected

    asyncio.run(scenario())
