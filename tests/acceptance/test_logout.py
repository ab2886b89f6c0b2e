"""From step 09: logging out closes the sockets that session opened, and no others.

Over HTTP, as a browser does: log in through the login form (a real session cookie),
open sockets with that cookie, then POST /accounts/logout/ with the session's CSRF
token. Every socket of that session is closed with 4401 ("not logged in"), which the
page explains and does not retry; the same user's sockets from another browser (another
session) stay open and keep working.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.chat_client import (
    chat_message,
    close_code,
    join,
    next_frame,
    next_history,
    open_socket,
    say,
)
from tests.server_state import new_account
from tests.task_client import append, lines_of, log_path, logs_socket, running, unique
from workshop.accounts import LOGIN_PATH, cookie_header, fetch, log_in
from workshop.processes import wait_until

pytestmark = pytest.mark.needs("notifications")

NOT_LOGGED_IN = 4401  # the close code of step 07 (chat/consumers.py)
# How long after the logout's answer its sockets may take to close, on a loaded machine.
CLOSE_SECONDS = 3.0
DELIVERY_SECONDS = 5.0


def log_out(server, session: str) -> None:
    """Press the page's Log out button: POST /accounts/logout/ with the session cookie and
    the CSRF token of the page's form (and its cookie), as the browser sends them."""
    with urllib.request.urlopen(
        urllib.request.Request(server.url + "/chat/", headers={"Cookie": cookie_header(session)}),
        timeout=10,
    ) as response:
        page = response.read().decode()
        csrf_cookie = re.search(r"csrftoken=([^;]+)", response.headers.get("Set-Cookie", ""))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token and csrf_cookie, "the page has no logout form with a CSRF token"
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode()
    cookies = f"{cookie_header(session)}; csrftoken={csrf_cookie.group(1)}"
    request = urllib.request.Request(
        server.url + "/accounts/logout/", data=form, headers={"Cookie": cookies}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # redirected to the login
        assert response.url == server.url + LOGIN_PATH, response.url
    # The session is gone on the server: its cookie now leads to the login page.
    status, final_url, _ = fetch(server.url + "/chat/", session)
    assert final_url.startswith(server.url + LOGIN_PATH), (status, final_url)


async def closed_by_the_logout(socket) -> int:
    """The code the server closed the socket with, CLOSE_SECONDS after the logout at most."""
    try:
        return await close_code(socket, CLOSE_SECONDS)
    except TimeoutError:
        raise AssertionError(
            f"{socket.request.path} was still open {CLOSE_SECONDS} s after its session logged out"
        ) from None


def test_logging_out_closes_that_sessions_sockets_and_no_others(server):
    account, _ = new_account(server, staff=True)  # staff: its log sockets open
    laptop, phone = log_in(server.url, account), log_in(server.url, account)
    assert laptop != phone
    room = f"leaving-{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with (
            join(server, room, session=laptop) as laptop_room,
            open_socket(server, "/ws/notifications/", session=laptop) as laptop_notifications,
            join(server, room, session=phone) as phone_room,
            open_socket(server, "/ws/notifications/", session=phone) as phone_notifications,
        ):
            for socket in (laptop_room, phone_room):
                await next_history(socket)
            # Before: both sessions chat, and both get the user's notifications. (Each
            # socket has then also finished its handshake's work on the server.)
            await say(laptop_room, "before")
            for socket in (laptop_room, phone_room):
                assert await next_frame(socket) == chat_message(server, "before", account)
            text = f"before {uuid.uuid4().hex[:6]}"
            result = await asyncio.to_thread(server.manage, "notify", account.username, text)
            assert result.returncode == 0, result.stderr
            for socket in (laptop_notifications, phone_notifications):
                assert await next_frame(socket, DELIVERY_SECONDS) == {"notification": text}

            await asyncio.to_thread(log_out, server, laptop)

            # The laptop's sockets are closed, each with 4401.
            for socket in (laptop_room, laptop_notifications):
                assert await closed_by_the_logout(socket) == NOT_LOGGED_IN
            # The phone's session was not logged out: its sockets chat on.
            await say(phone_room, "still here")
            assert await next_frame(phone_room) == chat_message(server, "still here", account)
            text = f"after {uuid.uuid4().hex[:6]}"
            result = await asyncio.to_thread(server.manage, "notify", account.username, text)
            assert result.returncode == 0, result.stderr
            assert await next_frame(phone_notifications, DELIVERY_SECONDS) == {"notification": text}

    asyncio.run(scenario())


@pytest.mark.needs("tasks")
def test_logging_out_closes_that_sessions_log_socket(server, celery_worker):
    account, _ = new_account(server, staff=True)  # staff: its log sockets open
    laptop, phone = log_in(server.url, account), log_in(server.url, account)
    access = log_path(server, "access")  # there, for the jobs to follow

    async def scenario():
        async with (
            logs_socket(server, "access", session=laptop) as laptop_logs,
            logs_socket(server, "access", session=phone) as phone_logs,
        ):
            for socket in (laptop_logs, phone_logs):
                await running(socket)  # a job follows the log for each
            await asyncio.to_thread(log_out, server, laptop)
            assert await closed_by_the_logout(laptop_logs) == NOT_LOGGED_IN
            # The phone's socket stays open, and its job still sends it the log's lines.
            line = unique("after the logout", 1)
            append(access, line)
            assert await lines_of(phone_logs, 1) == line

    asyncio.run(scenario())


def test_logging_out_while_redis_is_down_still_logs_out(private_redis, start_server):
    # Redis down: the sockets cannot be told (they were closed with 4503 anyway, and
    # their pages reconnect without a login); the logout itself must still work.
    server = start_server(redis_url=private_redis.url)
    account, _ = new_account(server, staff=True)  # staff: its log sockets open
    session = log_in(server.url, account)
    private_redis.stop()
    log_out(server, session)
    assert wait_until(lambda: "Sockets not closed at logout" in server.log_text(), 5.0)
