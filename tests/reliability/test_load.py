"""Load: a burst across many rooms at once. Counted, never timed.

A crowded room (messages in rounds) is in tests/acceptance/test_groups.py, for every
step with rooms. The burst here sends everything at once, with no rounds: each server
process has one mailbox in Redis, which holds 100 messages unless the layer's `capacity`
says more, and the burst drops most of it there; so it runs from the step that sets the
capacity for it (step 06). Sockets left idle for a minute: test_idle_sockets.py.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.chat_client import burst_across_rooms
from tests.subjects import ROOM_CHAT

pytestmark = [pytest.mark.needs("burst"), pytest.mark.slow, pytest.mark.subject(*ROOM_CHAT)]


def test_a_burst_across_20_rooms_loses_nothing_and_keeps_each_senders_order(start_server):
    # 200 clients in 20 rooms of 10 all press Enter 5 times at once: 1,000 messages, 10,000
    # deliveries, every one counted. With the default 100-message mailbox per process, nine
    # in ten of them were lost here.
    server = start_server(measure=False)  # a load test: coverage tracing would only slow it
    room_of, sent_by, received = asyncio.run(
        burst_across_rooms(server, rooms=20, per_room=10, messages_each=5)
    )
    lost = 0
    for client, log in enumerate(received):
        room_senders = {c: texts for c, texts in sent_by.items() if room_of[c] == room_of[client]}
        expected = {text for texts in room_senders.values() for text in texts}
        assert set(log) <= expected, f"client {client} heard another room: {set(log) - expected}"
        assert len(log) == len(set(log)), f"client {client} got a message twice"
        for sender, texts in room_senders.items():
            heard = [text for text in log if text.startswith(f"{sender}:")]
            assert heard == [text for text in texts if text in heard], (
                f"client {client}: the messages of {sender} arrived out of order"
            )
        lost += len(expected) - len(log)
    assert lost == 0, f"{lost} of {sum(map(len, received)) + lost} deliveries lost in the burst"
