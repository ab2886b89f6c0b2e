"""Hypothesis drives a step's ChatConsumer with arbitrary frames (run by test_properties.py).

Run as a script inside a copy of the step (the working directory), so that the
step's Django settings are loaded in a process of their own:

    python path/to/property_driver.py MAX_EXAMPLES

The consumer runs in this process, behind channels' WebsocketCommunicator, on the
in-memory layer: fast, and enough to check what the consumer answers and sends.
For every frame, the property is:

- it never raises (a crashed consumer would close the socket with 1011);
- it always answers the sender: either {"error": "..."} or the sender's own message,
  as every member hears it;
- it never broadcasts anything but a valid chat message: text that is not blank, at
  most MAX_MESSAGE_LENGTH characters, and encodable (the Redis layer must store it),
  and exactly the "message" the frame carried.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

import django  # noqa: E402

django.setup()

from channels.routing import URLRouter  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.test import override_settings  # noqa: E402
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chat import consumers  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402

MAX_MESSAGE_LENGTH = getattr(consumers, "MAX_MESSAGE_LENGTH", 1000)
APPLICATION = URLRouter(websocket_urlpatterns)
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
TIMEOUT = 5
# Both members are this logged-in user, as AuthMiddlewareStack would put it in the scope
# (steps before 07 ignore it; from 07 on, each broadcast names it as the sender).
PROPERTY_USER = "property"

# Characters that have broken chat programs: NUL, lone surrogates, a right-to-left
# override, a byte order mark, a combining accent, an emoji, markup, line breaks.
# Offered on their own as well as among Hypothesis' own choice of any character:
# a lone surrogate is 2,048 code points out of 1.1 million and hides from chance.
TRICKY = ["\x00", "\ud800", "\udfff", "\ud83d", "\u202e", "\ufeff", "\u0301", "😀", "<", "\n"]
any_text = st.one_of(
    st.text(max_size=30),
    st.text(st.sampled_from(TRICKY), min_size=1, max_size=5),
    st.text(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=30),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
message_text = st.one_of(
    any_text,
    st.integers(MAX_MESSAGE_LENGTH - 2, MAX_MESSAGE_LENGTH + 2).map(lambda n: "é" * n),
    st.sampled_from(["", " ", "\t\n", "\u3000", "\u200b"]),  # blank, or blank-looking
)
chat_frame = st.fixed_dictionaries({"message": message_text}, optional={"extra": json_value})


def deliverable(text: str) -> bool:
    """A WebSocket text frame is UTF-8: Daphne can only deliver text that encodes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


frames = st.one_of(
    st.text(),  # anything at all
    json_value.map(json.dumps),  # any JSON
    chat_frame.map(json.dumps),  # chat-shaped JSON (surrogates come out as \\udXXX)
    chat_frame.map(lambda f: json.dumps(f, ensure_ascii=False)).filter(deliverable),
    st.binary(max_size=40),  # a binary frame
)


def is_valid_chat_message(message) -> bool:
    return (
        isinstance(message, str)
        and message.strip() != ""
        and len(message) <= MAX_MESSAGE_LENGTH
        and deliverable(message)
    )


async def next_json(member) -> dict:
    """The next frame a member gets, past the history a step with one sends first, and
    without a message's id and time (from step 08 on; they differ on every run)."""
    frame = json.loads((await member.receive_output(TIMEOUT))["text"])
    while "history" in frame:
        frame = json.loads((await member.receive_output(TIMEOUT))["text"])
    return {key: value for key, value in frame.items() if key not in ("id", "created")}


async def answer_and_broadcast(frame, user):
    """Send frame from one member; return (the sender's answer, what another member heard)."""
    sender = WebsocketCommunicator(APPLICATION, "/ws/chat/property/")
    listener = WebsocketCommunicator(APPLICATION, "/ws/chat/property/")
    for member in (sender, listener):
        member.scope["user"] = user
    try:
        assert (await sender.connect(TIMEOUT))[0], "the sender could not connect"
        assert (await listener.connect(TIMEOUT))[0], "the listener could not connect"
        # The event exactly as Daphne delivers a frame (send_to refuses an empty one).
        kind = "bytes" if isinstance(frame, bytes) else "text"
        await sender.send_input({"type": "websocket.receive", kind: frame})
        # receive_output re-raises an exception that ended the consumer.
        answer = await next_json(sender)
        if "error" in answer:
            # Whatever the bad frame broadcast would reach the listener before this.
            await sender.send_to(text_data=json.dumps({"message": "sentinel"}))
        heard = await next_json(listener)
        return answer, heard
    finally:
        await sender.disconnect()
        await listener.disconnect()


def without_sender(frame: dict) -> dict:
    """A broadcast frame without its sender's name, which must be PROPERTY_USER if there."""
    frame = dict(frame)
    assert frame.pop("user", PROPERTY_USER) == PROPERTY_USER, f"the wrong sender: {frame!r}"
    return frame


def check(frame, loop, user) -> None:
    try:
        answer, heard = loop.run_until_complete(answer_and_broadcast(frame, user))
    except TimeoutError:
        raise AssertionError("no answer within 5 s") from None
    heard = without_sender(heard)
    if "error" in answer:
        assert set(answer) == {"error"} and isinstance(answer["error"], str), answer
        assert answer["error"], "an empty error"
        assert heard == {"message": "sentinel"}, f"refused, yet broadcast: {heard!r}"
        return
    answer = without_sender(answer)
    assert set(answer) == {"message"}, f"neither an error nor a message: {answer!r}"
    assert is_valid_chat_message(answer["message"]), f"broadcast an invalid message: {answer!r}"
    assert heard == answer, f"the sender saw {answer!r}, another member {heard!r}"
    assert answer["message"] == json.loads(frame)["message"], "the message was altered"


def main(max_examples: int) -> None:
    loop = asyncio.new_event_loop()
    # A user row (the copy is migrated): from step 08 on, each message saved points to it.
    user, _ = User.objects.get_or_create(username=PROPERTY_USER)

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: CI cannot flake
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )
    @given(frames)
    @example('{"message": "hello"}')
    def consumer_answers_every_frame(frame):
        check(frame, loop, user)

    with override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER):
        consumer_answers_every_frame()
    print(f"OK: {max_examples} examples, the property held")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
