"""From step 06: however a socket ends, its consumer runs disconnect().

Channels runs disconnect() when the browser leaves. When a handler raises instead, the
socket closes with 1011 and, unless the consumer sees to it (LayerAwareConsumer.__call__),
disconnect() never runs: the groups it joined keep a dead member for a day (the layer's
group_expiry) and whatever connect() started runs on. A real trigger: a group message
of a type no consumer handles, as a typo in a command or a view would send it. Each
member's consumer raises "No handler for message type" (docs/guarantees.md).
The job a log socket starts: the step's own suite (chat/tests/test_tasks.py).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.chat_client import chat_message, close_code, join, next_frame, notifications_of, say
from tests.server_state import members_in_redis, new_account, send_to_group
from tests.subjects import NOTIFICATIONS, ROOM_CHAT
from tests.task_client import following, log_path, new_job
from workshop.accounts import session_for
from workshop.processes import wait_until

pytestmark = pytest.mark.needs("clean-up")

INTERNAL_ERROR = 1011  # Daphne's close code when a consumer raises
A_TYPE_NOBODY_HANDLES = {"type": "chat.no_such_handler"}
# Pages that close while joining: enough that some close while connect() sends.
CLOSED_WHILE_JOINING = 100


@pytest.mark.subject(*ROOM_CHAT)
def test_members_whose_consumer_raised_leave_the_group_and_other_rooms_chat_on(server):
    room, calm = f"crash-{uuid.uuid4().hex[:6]}", f"calm-{uuid.uuid4().hex[:6]}"

    async def scenario():
        async with join(server, room) as first, join(server, room) as second:
            async with join(server, calm) as alice, join(server, calm) as bob:
                assert members_in_redis(server, f"chat_{room}") >= 1  # 2 sockets, 1 process
                await send_to_group(server, f"chat_{room}", A_TYPE_NOBODY_HANDLES)
                assert await close_code(first) == INTERNAL_ERROR
                assert await close_code(second) == INTERNAL_ERROR
                # disconnect() ran: nobody is left in the room's group.
                assert await asyncio.to_thread(
                    wait_until, lambda: members_in_redis(server, f"chat_{room}") == 0, 5.0
                ), f"still {members_in_redis(server, f'chat_{room}')} members in chat_{room}"
                await say(alice, "still here")
                assert await next_frame(bob) == chat_message(server, "still here")
        # And a new member can use the room again.
        async with join(server, room) as again, join(server, room) as other:
            await say(again, "back")
            assert await next_frame(other) == chat_message(server, "back")

    asyncio.run(scenario())


@pytest.mark.needs("notifications")  # steps that have it have clean-up too
@pytest.mark.subject(*NOTIFICATIONS)
def test_a_notification_socket_whose_consumer_raised_leaves_its_users_group(server):
    account, group = new_account(server)  # fresh: its group is empty but for this page

    async def scenario():
        async with notifications_of(server, account) as page:
            assert await asyncio.to_thread(
                wait_until, lambda: members_in_redis(server, group) == 1, 5.0
            )
            await send_to_group(server, group, A_TYPE_NOBODY_HANDLES)
            assert await close_code(page) == INTERNAL_ERROR
            assert await asyncio.to_thread(
                wait_until, lambda: members_in_redis(server, group) == 0, 5.0
            ), f"{group} still has {members_in_redis(server, group)} members"

    asyncio.run(scenario())


@pytest.mark.needs("history")  # the first step that sends on joining (the room's history)
@pytest.mark.subject(*ROOM_CHAT)
def test_a_page_closed_while_joining_leaves_no_traceback_and_no_member(server):
    # The browser may leave while connect() is still sending it the history:
    # Daphne then raises "Attempt to send on a closed protocol" in the consumer.
    room = f"leaving-{uuid.uuid4().hex[:6]}"
    log_before = len(server.log_text())

    async def join_and_leave_at_once():
        async with join(server, room):
            pass  # closes as soon as the handshake is done

    async def scenario():
        await asyncio.gather(*(join_and_leave_at_once() for _ in range(CLOSED_WHILE_JOINING)))

    asyncio.run(scenario())
    assert wait_until(lambda: members_in_redis(server, f"chat_{room}") == 0, 5.0), (
        f"{members_in_redis(server, f'chat_{room}')} members left in chat_{room}"
    )
    log = server.log_text()[log_before:]
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.needs("task-stop")
@pytest.mark.subject("chat/consumers.py::LayerAwareConsumer", "chat/consumers.py::LogConsumer")
def test_a_log_socket_whose_consumer_raised_ends_its_job(server, celery_worker):
    # From step 09 every socket of a logged-in page is in its session's group (logging out
    # closes them): a message of a type nobody handles, sent there, makes each raise.
    log_path(server, "access")  # there, so that the job runs
    before = celery_worker.running_jobs()

    async def scenario():
        async with following(server, "access") as page:
            job = new_job(celery_worker, before)
            session_key = session_for(server)
            await send_to_group(server, f"session_{session_key}", A_TYPE_NOBODY_HANDLES)
            assert await close_code(page) == INTERNAL_ERROR
            ended = await asyncio.to_thread(
                wait_until, lambda: celery_worker.finished(job), 5.0, 0.05
            )
            assert ended, "the job runs on after its consumer raised"

    asyncio.run(scenario())
