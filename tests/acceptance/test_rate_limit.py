"""From step 07: one user may send about 5 messages a second, bursts of 20 (chat/limits.py).

The other tests' servers raise the limit, as their one machine sends for every member
(workshop/step_server.py, MACHINE_SENDER_LIMITS); these start a server with the step's own
settings. Past the burst, a message is answered with an error that says when to try again,
and reaches nobody; all the user's sockets in a server process share one bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import pytest

from tests.chat_client import chat_message, is_history, join, next_frame, say

# No subject: every step with users runs it, so that each step's own copy of the "Too fast"
# branch runs in a measured Daphne (the other servers raise the limit).
pytestmark = pytest.mark.needs("login")

BURST = 20  # CHAT_MESSAGE_BURST's default
PER_SECOND = 5  # CHAT_MESSAGES_PER_SECOND's default


async def frames_until_quiet(socket, quiet_seconds: float = 0.5) -> list[dict]:
    """Every frame the socket receives until none comes for quiet_seconds (but history)."""
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(json.loads(await asyncio.wait_for(socket.recv(), quiet_seconds)))
    return [frame for frame in frames if not is_history(frame)]


def test_past_the_burst_a_user_is_told_to_wait_and_the_room_gets_nothing(start_server):
    server = start_server(person_limits=True)
    room = f"quick-{uuid.uuid4().hex[:6]}"

    async def scenario():
        async with (
            join(server, room) as first_page,
            join(server, room) as second_page,  # another page of the same user
            join(server, room) as listener,
        ):
            # 30 messages at once, 15 from each page: fewer than a burst each, but the
            # user's pages share one bucket.
            sent = [f"m{n}" for n in range(BURST + 10)]
            for n, text in enumerate(sent):
                await say((first_page, second_page)[n % 2], text)
            heard = [frame["message"] for frame in await frames_until_quiet(listener)]
            # The burst, then about one more per 1/5 s that passed while sending.
            # (Two pages are two senders: no common order between them.)
            assert BURST <= len(heard) < len(sent) and len(set(heard)) == len(heard), heard
            assert set(heard) <= set(sent), heard
            refused = [
                frame["error"]
                for page in (first_page, second_page)
                for frame in await frames_until_quiet(page)
                if "error" in frame
            ]
            assert len(refused) == len(sent) - len(heard), refused
            assert all(error.startswith("Too fast: try again in") for error in refused)
            # A token comes back every 1/5 s.
            await asyncio.sleep(2 / PER_SECOND)
            await say(first_page, "after a pause")
            assert await next_frame(listener) == chat_message(server, "after a pause")

    asyncio.run(scenario())
