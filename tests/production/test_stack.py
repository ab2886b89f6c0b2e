"""The production page, run: the last step behind nginx (docs/production/nginx.conf),
two Daphne processes, one Redis, DEBUG off. See docs/production.md and docs/guarantees.md.

The tests run in file order on one stack; the idle socket (conftest.py) is opened when
the stack starts and checked after the other tests, the rolling restart comes last.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.error
import urllib.request

import pytest

from tests.chat_client import chat_message, close_code, join, next_frame, notifications_of, say
from tests.pages import chat_log, open_room, post_message, text_of, wait_until_log_contains
from tests.task_client import append, following, lines_of
from workshop.accounts import BOB, LOGIN_PATH, create_accounts
from workshop.accounts import fetch as fetch_page
from workshop.manifest import load_steps
from workshop.processes import wait_until
from workshop.production_nginx import SITE_CONFIG
from workshop.step_server import run_manage

from .members import Member

pytestmark = [pytest.mark.redis, pytest.mark.slow]

NOT_LOGGED_IN = 4401  # the close code of a step with users (chat/consumers.py)
NGINX_DEFAULT_READ_TIMEOUT = 60  # seconds, when the site file sets no proxy_read_timeout
RECONNECT_SECONDS = 20
LAST_STEP = load_steps()[-1]


@pytest.fixture
def stack(production_stack, idle_member):
    return production_stack


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def servers_holding(stack, room: str) -> list[int]:
    """Which Daphne processes accepted a socket for room (from their access logs)."""
    marker = f"WSCONNECT /ws/chat/{room}/"
    return [i for i, server in enumerate(stack.servers) if marker in server.log_text()]


def test_the_page_and_sockets_work_through_nginx_on_both_servers(stack, browser):
    status, headers, _ = fetch(stack.url + "/chat/")
    assert status == 200 and headers["Server"].startswith("nginx"), headers
    open_room(browser, stack, "through-nginx")

    async def scenario():
        async with join(stack, "through-nginx") as alice, join(stack, "through-nginx") as bob:
            hello = chat_message(stack, "hello through nginx")
            answer = chat_message(stack, "the page answers")  # the page is logged in alike
            await say(alice, hello["message"])
            assert await next_frame(bob) == hello
            await asyncio.to_thread(wait_until_log_contains, browser, hello["message"])
            await asyncio.to_thread(post_message, browser, answer["message"])
            assert await next_frame(alice) == hello
            assert await next_frame(alice) == answer
            assert await next_frame(bob) == answer

    asyncio.run(scenario())
    # nginx shares the sockets out between the processes: the room spans both.
    assert servers_holding(stack, "through-nginx") == [0, 1]


def test_through_nginx_a_visitor_is_asked_to_log_in_and_an_anonymous_socket_refused(stack):
    if not stack.accounts:
        pytest.skip(f"{stack.step.folder} has no users")
    _, final_url, _ = fetch_page(stack.url + "/chat/")
    assert final_url == f"{stack.url}{LOGIN_PATH}?next=/chat/", final_url

    async def scenario():
        async with join(stack, "anonymous", session=None) as anonymous:
            return await close_code(anonymous)

    assert asyncio.run(scenario()) == NOT_LOGGED_IN


def test_static_files_come_from_nginx_with_debug_off(stack):
    path = "/static/admin/css/base.css"  # collected from django.contrib.admin
    status, headers, body = fetch(stack.url + path)
    assert status == 200, f"nginx answered {status} for {path}"
    assert headers["Server"].startswith("nginx") and headers["Content-Type"] == "text/css"
    assert body == (stack.static_root / "admin/css/base.css").read_bytes()
    # Daphne itself does not serve them: with DEBUG off, Django serves no static files.
    assert fetch(stack.servers[0].url + path)[0] == 404
    status, _, body = fetch(stack.url + "/no-such-page/")
    assert status == 404 and b"URLconf" not in body, "a debug page: DEBUG is on"


def test_killing_one_server_its_members_reconnect_through_nginx_to_the_other(
    stack, browser, idle_member
):
    (idle_server,) = servers_holding(stack, "idle-room")
    doomed = 1 - idle_server  # the idle socket must see out nginx's timeout untouched
    room = "after-a-crash"
    open_room(browser, stack, room)

    async def scenario():
        members = [Member(stack, room, f"m{n}") for n in range(4)]
        tasks = [asyncio.create_task(member.run()) for member in members]
        await asyncio.wait_for(asyncio.gather(*(m.connected.wait() for m in members)), 20)
        assert doomed in servers_holding(stack, room)

        await asyncio.to_thread(stack.kill, doomed)
        killed_at = time.monotonic()
        cut_off = []
        deadline = killed_at + RECONNECT_SECONDS
        while time.monotonic() < deadline:
            cut_off = [m for m in members if m.reconnects]
            if len(cut_off) == 2 and all(m.connected.is_set() for m in members):
                break
            await asyncio.sleep(0.1)
        assert len(cut_off) == 2, "nginx gave half of the 4 members to each server"
        assert all(m.connected.is_set() for m in members), "a member did not reconnect"
        members_back = time.monotonic() - killed_at

        assert await asyncio.to_thread(
            wait_until,
            lambda: text_of(browser, "connection-status").startswith("Connected"),
            RECONNECT_SECONDS,
            0.2,
        ), text_of(browser, "connection-status")
        # A figure, not a target (those live in the benchmarks): `pytest -s` shows it.
        print(
            f"server {doomed} killed: its members back through nginx after {members_back:.1f} s, "
            f"the page after {time.monotonic() - killed_at:.1f} s"
        )
        # Everything sent after the reconnect reaches everyone, the page included.
        for member in members:
            assert await member.say(f"{member.name} after the crash")
        await asyncio.to_thread(post_message, browser, "the page after the crash")
        expected = [f"{m.name} after the crash" for m in members] + ["the page after the crash"]
        for member in members:
            for text in expected:
                assert await member.wait_for(text, 10), f"{member.name} never got {text!r}"
        for text in expected[:-1]:
            await asyncio.to_thread(wait_until_log_contains, browser, text)
        for member in members:
            await member.stop()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(scenario())
    finally:
        if not stack.servers[doomed].running:
            stack.servers[doomed].start()  # the later tests need both servers
    assert chat_log(browser).count("the page after the crash") == 1


def test_a_socket_idle_longer_than_nginx_read_timeout_stays_open(stack, idle_member):
    site = SITE_CONFIG.read_text()
    configured = re.search(r"proxy_read_timeout\s+(\d+)s?;", site)
    timeout = int(configured.group(1)) if configured else NGINX_DEFAULT_READ_TIMEOUT
    # Idle for 5 s past the timeout; the tests above ran in the meantime.
    time.sleep(max(0.0, idle_member.opened_at + timeout + 5 - time.monotonic()))
    idle_for = time.monotonic() - idle_member.opened_at
    idle_member.release()
    assert idle_member.error is None, (
        f"the socket idle for {idle_for:.0f} s was closed (code {idle_member.close_code}): "
        f"{idle_member.error!r}"
    )
    assert idle_member.echo == chat_message(stack, "still here")


@pytest.mark.skipif(not LAST_STEP.has("worker"), reason="the last step has no mentions worker")
def test_the_stacks_runworker_delivers_a_mention_through_nginx(stack):
    create_accounts(stack.copy, stack.env, (BOB,))  # someone to mention, besides the demo
    text = f"@{BOB.username} through nginx"

    async def scenario():
        async with (
            notifications_of(stack, BOB) as bob,
            join(stack, "mentioning") as demo,
        ):
            await next_frame(demo, raw=True)  # the room's history
            await say(demo, text)
            notified = await next_frame(bob, timeout=10)
            assert notified["notification"].endswith(text), notified

    asyncio.run(scenario())


@pytest.mark.skipif(not LAST_STEP.has("tasks"), reason="the last step runs no Celery jobs")
def test_the_stacks_celery_worker_runs_a_pages_job_through_nginx(stack):
    logs = stack.copy / "logs"  # settings.FOLLOWED_LOGS of the step, in the stack's copy
    logs.mkdir(exist_ok=True)
    access = logs / "access.log"
    access.touch()

    async def scenario():
        async with following(stack, "access") as page:
            append(access, ["through nginx"])
            assert await lines_of(page, 1) == ["through nginx"]

    asyncio.run(scenario())


@pytest.mark.skipif(not LAST_STEP.has("history"), reason="the last step saves no messages")
def test_messages_said_through_nginx_are_saved_in_postgresql(stack):
    """docs/production.md, section 8: in production the messages go to PostgreSQL."""
    text = f"saved through nginx {time.time()}"

    async def scenario():
        async with join(stack, "saved-room") as alice:
            await say(alice, text)
            assert (await next_frame(alice))["message"] == text

    asyncio.run(scenario())
    # Asked of the stack's own Django, with the stack's settings: which database, and is it there?
    result = run_manage(
        stack.copy, "shell", "--verbosity", "0", "-c",
        "from django.db import connection; from chat.models import Message; "
        f"print(connection.vendor, Message.objects.filter(text={text!r}).count())",
        env=stack.env,
    )  # fmt: skip
    assert result.stdout.split() == ["postgresql", "1"], result.stdout + result.stderr


def test_a_rolling_restart_loses_no_message_a_connected_member_sent(stack):
    """One server at a time is stopped (SIGTERM, as a deploy does) and started again, while
    a member keeps sending. A message counts as sent when its echo reached the sender (the
    server took it); every member connected from its sending until 1 s after its echo must
    have it. Members on the stopped server reconnect through nginx to the other one; members
    who join after a restart are spread over both."""
    room = "rolling"

    async def scenario():
        sender = Member(stack, room, "sender")
        listeners = [Member(stack, room, f"listener{n}") for n in range(4)]
        everyone = [sender, *listeners]
        tasks = [asyncio.create_task(member.run()) for member in everyone]
        await asyncio.wait_for(asyncio.gather(*(m.connected.wait() for m in everyone)), 20)
        sent: list[tuple[str, float, float]] = []  # (text, sent at, echo at)
        restarting = True

        async def keep_sending():
            n = 0
            while restarting:
                text = f"rolling {n}"
                n += 1
                at = time.monotonic()
                if await sender.say(text):
                    echo = await sender.wait_for(text, 5)
                    if echo is not None:
                        sent.append((text, at, echo))
                await asyncio.sleep(0.05)

        sending = asyncio.create_task(keep_sending())
        for index in range(len(stack.servers)):
            await asyncio.sleep(1)
            await asyncio.to_thread(stack.restart, index)
            # Two members join now: nginx gives one to each server, the restarted one too.
            joining = [Member(stack, room, f"late{index}-{n}") for n in range(2)]
            everyone += joining
            tasks += [asyncio.create_task(member.run()) for member in joining]
            for member in joining:
                assert await member.connects(20), f"{member.name}: {member.last_error!r}"
        await asyncio.sleep(2)
        restarting = False
        await sending
        for member in everyone:
            await asyncio.wait_for(member.connected.wait(), RECONNECT_SECONDS)
        await asyncio.sleep(1.5)  # the last messages' grace time
        for member in everyone:
            await member.stop()
        await asyncio.gather(*tasks)
        return sent, everyone

    sent, everyone = asyncio.run(scenario())
    assert len(sent) >= 20, f"only {len(sent)} messages were taken during the restart"
    assert all(m.reconnects >= 1 for m in everyone[:5]), "every server restarted: all reconnect"
    checked = 0
    for text, at, echo in sent:
        for member in everyone[1:]:
            if member.was_connected_throughout(at, echo + 1.0):
                checked += 1
                assert member.got(text), f"{member.name} was connected and missed {text!r}"
    assert checked >= len(sent), "too few (message, connected member) pairs to check"
    print(f"{len(sent)} messages taken, {checked} deliveries to connected members checked")
