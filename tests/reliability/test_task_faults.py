"""From step 10: the /logs/ page's jobs when Redis (broker, cache and channel layer) goes away.

Each test starts its own redis-server, Daphne and Celery worker, so that stopping Redis
never reaches the session's shared ones.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from selenium.webdriver.common.by import By
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.chat_client import close_code
from tests.pages import open_page, text_of, wait_for
from tests.task_client import append, follow, lines_of, log_path, logs_socket
from workshop.processes import wait_until

pytestmark = [pytest.mark.needs("tasks"), pytest.mark.slow]

LAYER_UNAVAILABLE = 4503  # the close code of step 06 (chat/consumers.py)
# Redis is back: how long the server and the worker may take to reconnect to it.
BACK_SECONDS = 30


async def follow_once_redis_is_back(server, name: str) -> tuple:
    """Open a logs socket and start a job, trying again until both work; returns both."""
    deadline = time.monotonic() + BACK_SECONDS
    while True:
        page = logs_socket(server)
        try:
            socket = await page.__aenter__()
            return page, socket, await follow(socket, name)
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
        async with logs_socket(server) as idle, logs_socket(server) as following:
            job = await follow(following, "access")
            private_redis.stop()
            # The following page: its consumer cannot renew the job's flag.
            assert await close_code(following) == LAYER_UNAVAILABLE
            # The idle page asks for a job now: it cannot be sent.
            await idle.send(json.dumps({"follow": "access"}))
            assert await close_code(idle) == LAYER_UNAVAILABLE
        private_redis.start()  # same port: every process's REDIS_URL is right again
        page, socket, new_job = await follow_once_redis_is_back(server, "access")
        try:
            append(access, ["after the restart"])
            assert await lines_of(socket, new_job, 1) == ["after the restart"]
        finally:
            await page.__aexit__(None, None, None)
        return job

    asyncio.run(scenario())
    assert worker.running, "the Celery worker exited when Redis went away"


def test_the_page_says_its_job_stopped_and_reconnects_after_redis_restarts(
    private_redis, start_server, start_celery_worker, browser
):
    server = start_server(redis_url=private_redis.url)
    start_celery_worker(private_redis.url)
    access = log_path(server, "access")
    open_page(browser, server, "/logs/")
    wait_for(browser, lambda: text_of(browser, "connection-status") == "Connected.", "no socket")
    browser.find_element(By.ID, "follow-start").click()
    wait_for(browser, lambda: "running" in text_of(browser, "job-state"), "the job never ran")
    private_redis.stop()
    wait_for(
        browser,
        lambda: "stopped (the connection was lost)" in text_of(browser, "job-state"),
        "the page never said its job stopped",
    )
    private_redis.start()

    def following_again() -> bool:
        if text_of(browser, "connection-status") != "Connected.":
            return False
        state = text_of(browser, "job-state")
        if "queued" not in state and "running" not in state:
            browser.find_element(By.ID, "follow-start").click()  # as a person would
        return "running" in state

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
