"""From step 05: bad frames get an error reply on that socket, reach nobody, break nothing."""

import asyncio
import json

import pytest

from tests.chat_client import chat_message, join, next_frame, nothing_arrives, say
from tests.pages import open_room, post_message, text_of, wait_for

pytestmark = pytest.mark.needs("input-checks")

MAX_MESSAGE_LENGTH = 1000  # the limit step 05 states (chat/consumers.py)

BAD_FRAMES = {
    "not JSON": "hello",
    "JSON without message": json.dumps({"text": "hello"}),
    "JSON that is not an object": json.dumps(["hello"]),
    "message not a string": json.dumps({"message": 42}),
    "empty message": json.dumps({"message": ""}),
    "blank message": json.dumps({"message": "   "}),
    "over-long message": json.dumps({"message": "x" * (MAX_MESSAGE_LENGTH + 1)}),
    "binary frame": json.dumps({"message": "hello"}).encode(),
    # JSON may spell half of a two-part character; on Redis it crashed the consumer.
    "lone surrogate": '{"message": "\\ud800"}',
}


@pytest.mark.parametrize("frame", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_a_bad_frame_is_answered_and_not_broadcast(server, frame):
    async def scenario():
        async with join(server, "strict") as sender, join(server, "strict") as listener:
            await sender.send(frame)
            reply = await next_frame(sender)
            assert set(reply) == {"error"} and reply["error"], reply
            assert await nothing_arrives(listener, seconds=0.5)
            # The same socket still works.
            await say(sender, "still here")
            assert await next_frame(listener) == chat_message(server, "still here")

    asyncio.run(scenario())


def test_the_longest_allowed_message_is_delivered(server):
    async def scenario():
        async with join(server, "strict") as socket:
            await say(socket, "y" * MAX_MESSAGE_LENGTH)
            return await next_frame(socket)

    assert asyncio.run(scenario()) == chat_message(server, "y" * MAX_MESSAGE_LENGTH)


def test_the_room_page_shows_the_error(server, browser):
    open_room(browser, server, "strict")
    post_message(browser, "   ")
    wait_for(
        browser,
        lambda: text_of(browser, "chat-error").startswith("Not sent:"),
        "the page did not show the server's error",
    )
    post_message(browser, "a real message")
    wait_for(browser, lambda: text_of(browser, "chat-error") == "", "the error was not cleared")
