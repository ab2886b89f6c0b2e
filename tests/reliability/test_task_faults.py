"""From step 11: the /logs/ page's jobs when Redis (broker and channel layer, and from step 12
the cache that holds the jobs' flags) goes away.

Each test starts its own redis-server, Daphne and Celery worker, so that stopping Redis
never reaches the session's shared ones.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from selenium.webdriver.common.by import By
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.chat_client import close_code
from tests.pages import open_page, text_of, wait_for
from tests.task_client import append, lines_of, log_path, logs_socket, running
from workshop.processes import wait_until

pytestmark = [pytest.mark.needs("tasks"), pytest.mark.slow]

LAYER_UNAVAILABLE = 4503  # the close code of step 06 (chat/consumers.py)
# Redis is back: how long the server and the worker may take to reconnect to it.
BACK_SECONDS = 30


async def follow_once_redis_is_back(server, name: str) -> tuple:
    """Open a logs socket until its job runs, as a person presses Follow again; returns
    (the context manager, its socket)."""
    deadline = time.monotonic() + BACK_SECONDS
    while True:
        page = logs_socket(server, name)
        try:
            socket = await page.__aenter__()
            await running(socket)
            return page, socket
        except (ConnectionClosed, InvalidStatus, OSError, AssertionError):
            await page.__aexit__(None, None, None)
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def test_redis_going_away_closes_logs_sockets_with_4503_and_jobs_run_again_after(
    private_redis, start_server, start_celery_worker
):
    server = start_server(redis_url=private_redis.url)
    worker = start_celery_worker(private_redis.url)
    access = log_path(server, "access")

    async def scenario():
        async with logs_socket(server, "access") as following:
            await running(following)
            private_redis.stop()
            assert await close_code(following) == LAYER_UNAVAILABLE
        # A page that asks for a job now: its socket cannot reach the layer either.
        async with logs_socket(server, "access") as late:
            assert await close_code(late) == LAYER_UNAVAILABLE
        private_redis.start()  # same port: every process's REDIS_URL is right again
        page, socket = await follow_once_redis_is_back(server, "access")
        try:
            append(access, ["after the restart"])
            assert await lines_of(socket, 1) == ["after the restart"]
        finally:
            await page.__aexit__(None, None, None)

    asyncio.run(scenario())
    assert worker.running, "the Celery worker exited when Redis went away"
    log = server.log_text()
    assert "Socket /ws/logs/access/: channel layer unreachable" in log, log[-3000:]
    assert "Exception inside application" not in log, log[-3000:]


def test_the_page_says_its_job_stopped_and_follows_again_after_redis_restarts(
    private_redis, start_server, start_celery_worker, browser
):
    server = start_server(redis_url=private_redis.url)
    start_celery_worker(private_redis.url)
    access = log_path(server, "access")
    open_page(browser, server, "/logs/")
    follow = browser.find_element(By.ID, "follow-start")
    follow.click()
    wait_for(browser, lambda: "running" in text_of(browser, "job-state"), "the job never ran")
    private_redis.stop()
    wait_for(
        browser,
        lambda: "(code 4503)" in text_of(browser, "job-state"),
        "the page never said its job stopped with 4503",
    )
    assert follow.is_enabled(), "Follow stayed disabled: the page cannot start a job again"
    private_redis.start()

    def following_again() -> bool:
        # The page's line for a running job; after a close it goes on with what happened.
        if text_of(browser, "job-state") == "Job running.":
            return True
        if follow.is_enabled():
            follow.click()  # as a person would, until the server reaches Redis again
        return False

    assert wait_until(following_again, BACK_SECONDS, interval=1), text_of(browser, "job-state")
    append(access, ["after the restart, in the browser"])
    wait_for(
        browser,
        lambda: (
            "after the restart, in the browser"
            in browser.find_element(By.ID, "log-lines").get_property("value")
        ),
        "no line reached the page after the restart",
    )
