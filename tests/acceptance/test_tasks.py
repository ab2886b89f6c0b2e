"""From step 11: a page follows a log file through a Celery job, run by a real worker.

The logged-in /logs/ page opens ws/logs/NAME/ for a name of settings.FOLLOWED_LOGS
("access" and "error": logs/access.log and logs/error.log in the project folder); the job
in `celery -A chatsite worker` (a real process here, on the step's Redis) sends that
socket the file's new lines. From step 12, closing the socket ends the job: the tests see
that in the worker's own log, as its terminal shows it. The tests write the lines into the
served copy's files, as a program that logs would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest
import redis
from selenium.webdriver.common.by import By

from tests.chat_client import close_code, nothing_arrives, path_refusal
from tests.pages import open_page, text_of, wait_for
from tests.task_client import (
    append,
    following,
    frame,
    lines_of,
    log_path,
    logs_socket,
    new_job,
    running,
    unique,
)
from workshop.accounts import ALICE, Account, create_accounts, fetch, session_for
from workshop.processes import wait_until

pytestmark = pytest.mark.needs("tasks")

NOT_LOGGED_IN = 4401  # the close code of step 07 (chat/consumers.py)
NO_SUCH_LOG = 4404  # the close code of step 11 for a name not in settings.FOLLOWED_LOGS
NOT_STAFF = 4403  # the close code of step 12 for a user who is not staff
TOO_MANY_JOBS = 4429  # the close code of step 12 for a user who runs as many jobs as they may
# A job looks at its flag every 0.2 s: it ends well within a second of its socket closing.
# The tests allow more, for a loaded machine, and print what they saw.
STOP_ALLOWED_SECONDS = 5


def test_an_anonymous_logs_socket_is_closed_with_4401(server):
    async def scenario():
        async with logs_socket(server, "access", session=None) as anonymous:
            assert await close_code(anonymous) == NOT_LOGGED_IN

    asyncio.run(scenario())


def test_a_name_that_is_no_log_is_refused_and_a_path_has_no_socket(server):
    async def scenario():
        for name in ("passwd", "settings", "access_log"):
            async with logs_socket(server, name) as socket:
                assert await close_code(socket) == NO_SUCH_LOG, name

    asyncio.run(scenario())
    # A path instead of a name matches no route: refused like any unknown socket path.
    for path in ("etc/passwd", "..", "%2Fetc%2Fpasswd"):
        assert path_refusal(server, f"/ws/logs/{path}/") == 403, path


def test_each_page_gets_the_lines_of_its_log_written_after_it_opened(server, celery_worker):
    access, error = log_path(server, "access"), log_path(server, "error")
    append(access, unique("before", 3))  # written before the jobs started: not shown (tail -f)
    to_access, to_error = unique("access", 5), unique("error", 5)

    async def scenario():
        async with (
            following(server, "access") as first,
            following(server, "access") as second,
            following(server, "error") as other,
        ):
            for access_line, error_line in zip(to_access, to_error, strict=True):
                append(access, [access_line])
                append(error, [error_line])
            # Both pages on access.log get every line of it, in order; the page on
            # error.log gets error.log's, and nothing of access.log.
            assert await lines_of(first, len(to_access)) == to_access
            assert await lines_of(second, len(to_access)) == to_access
            assert await lines_of(other, len(to_error)) == to_error
            for page in (first, second, other):
                assert await nothing_arrives(page, 1, raw=True)

    asyncio.run(scenario())


def test_a_missing_file_is_reported_and_the_worker_takes_the_next_job(server, celery_worker):
    access = log_path(server, "access")
    log_path(server, "error").unlink()  # the job cannot open it: FileNotFoundError
    earlier = set(celery_worker.jobs())

    async def scenario():
        try:
            async with logs_socket(server, "error") as page:
                failed = await frame(page, 10)
                assert failed["state"] == "failed", failed
                assert "No such file" in failed["error"], failed
                # The page names logs, never server paths: the error leaves the path out.
                assert str(log_path(server, "error").parent) not in failed["error"], failed
        finally:
            log_path(server, "error")  # there again, for the other tests
        async with following(server, "access") as page:  # the worker takes the next job
            append(access, ["after the failure"])
            assert await lines_of(page, 1) == ["after the failure"]

    asyncio.run(scenario())
    assert celery_worker.running, "the Celery worker exited"
    raised = {job for job, state in celery_worker.jobs().items() if state == "raised"}
    assert len(raised - earlier) == 1, "the worker's log shows no job that raised"
    assert "FileNotFoundError" in celery_worker.log_text()


def job_state(browser) -> str:
    return text_of(browser, "job-state")


def shown_lines(browser) -> str:
    return browser.find_element(By.ID, "log-lines").get_property("value")


def test_the_page_follows_a_log(server, celery_worker, browser):
    access = log_path(server, "access")
    open_page(browser, server, "/logs/")
    browser.find_element(By.ID, "follow-start").click()  # "access", the first name
    wait_for(browser, lambda: "running" in job_state(browser), "the job never ran")
    assert not browser.find_element(By.ID, "follow-start").is_enabled()
    lines = unique("seen in the browser", 3)
    append(access, lines)
    wait_for(
        browser,
        lambda: shown_lines(browser).endswith("\n".join(lines) + "\n"),
        "the lines never showed",
    )


# --- From step 12: closing the socket ends the job -------------------------------------


@pytest.mark.needs("task-stop")
def test_closing_the_socket_ends_its_job_and_the_other_pages_job_goes_on(server, celery_worker):
    access = log_path(server, "access")
    before = celery_worker.running_jobs()

    async def scenario():
        async with following(server, "access") as staying:
            stays = new_job(celery_worker, before)
            async with following(server, "access") as leaving:
                leaves = new_job(celery_worker, before | {stays})
                append(access, ["both"])
                for page in (staying, leaving):
                    assert await lines_of(page, 1) == ["both"]
            closed = time.monotonic()  # leaving the block closed the second socket
            ended = await asyncio.to_thread(
                wait_until,
                lambda: celery_worker.finished(leaves),
                STOP_ALLOWED_SECONDS,
                0.05,
            )
            took = time.monotonic() - closed
            assert ended, f"the job still ran {STOP_ALLOWED_SECONDS} s after its socket closed"
            print(f"the job ended {took:.2f} s after its socket closed")
            # The other page's job runs on.
            append(access, ["after one left"])
            assert await lines_of(staying, 1) == ["after one left"]
            assert stays in celery_worker.running_jobs()
        return stays

    stays = asyncio.run(scenario())
    assert wait_until(lambda: celery_worker.finished(stays), STOP_ALLOWED_SECONDS)


@pytest.mark.needs("task-stop")
def test_a_job_whose_flag_is_gone_ends_by_itself(server, celery_worker):
    # What happens when the flag expires (MAX_RUN_SECONDS after the socket opened, for a page
    # that never closed its socket, such as a server that died first): the job ends. Here
    # the flag goes at once: its key, the one that appeared in the step's cache in Redis.
    log_path(server, "access")
    before = celery_worker.running_jobs()

    def flags(client) -> set[bytes]:
        return set(client.scan_iter("*job:*"))

    async def scenario():
        with redis.Redis.from_url(server.env["REDIS_URL"]) as client:
            earlier = flags(client)
            async with following(server, "access"):
                job = new_job(celery_worker, before)
                [flag] = flags(client) - earlier
                client.delete(flag)
                assert await asyncio.to_thread(
                    wait_until, lambda: celery_worker.finished(job), STOP_ALLOWED_SECONDS
                ), "the job ran on without its flag"

    asyncio.run(scenario())


@pytest.mark.needs("task-stop")
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_closing_the_socket_ends_the_job_on_the_other_pools(
    pool, private_redis, start_server, start_celery_worker
):
    # The flag works in every Celery pool, where Celery's own revoke(terminate=True) cannot
    # stop a job of the threads or solo pool. A Redis of the test's own: the step's shared
    # worker must not take these jobs.
    own_server = start_server(redis_url=private_redis.url)
    worker = start_celery_worker(private_redis.url, pool=pool)
    access = log_path(own_server, "access")

    async def scenario():
        async with following(own_server, "access") as page:
            job = new_job(worker, set())
            append(access, [f"on {pool}"])
            assert await lines_of(page, 1) == [f"on {pool}"]
        return job

    job = asyncio.run(scenario())
    assert wait_until(lambda: worker.finished(job), STOP_ALLOWED_SECONDS), (
        f"closing the socket did not end the job on the {pool} pool"
    )


JOBS = 20
LINES_EACH_FILE = 100


# From step 12 only: on step 11 each job would hold its worker slot for ten minutes. A load
# test (about 20 s): `workshop check` runs it with --full.
@pytest.mark.slow
@pytest.mark.needs("task-stop")
def test_twenty_jobs_each_get_their_files_lines_in_order(server, celery_worker):
    files = {"access": log_path(server, "access"), "error": log_path(server, "error")}
    names = [("access", "error")[n % 2] for n in range(JOBS)]
    written = {name: unique(name, LINES_EACH_FILE) for name in files}

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            started = time.monotonic()
            pages = [await stack.enter_async_context(logs_socket(server, n)) for n in names]
            await asyncio.gather(*(running(page) for page in pages))
            all_running = time.monotonic() - started
            for access_line, error_line in zip(written["access"], written["error"], strict=True):
                append(files["access"], [access_line])
                append(files["error"], [error_line])
            written_at = time.monotonic()
            received = await asyncio.gather(
                *(lines_of(page, LINES_EACH_FILE, timeout=30) for page in pages)
            )
            delivered = time.monotonic() - written_at
            for page in pages:
                assert await nothing_arrives(page, 0.5, raw=True)
            return received, all_running, delivered

    received, all_running, delivered = asyncio.run(scenario())
    for index, (name, lines) in enumerate(zip(names, received, strict=True)):
        assert lines == written[name], f"page {index} ({name}): lines lost, extra or reordered"
    total = sum(map(len, received))
    print(
        f"\n{JOBS} jobs ({JOBS // 2} per file) running {all_running:.2f} s after their "
        f"sockets opened; {2 * LINES_EACH_FILE} lines written, {total} delivered "
        f"({LINES_EACH_FILE} to each page, in order, none lost) within {delivered:.2f} s"
    )


@pytest.mark.needs("task-stop")
def test_stop_on_the_page_ends_its_job(server, celery_worker, browser):
    access = log_path(server, "access")
    open_page(browser, server, "/logs/")
    before = celery_worker.running_jobs()
    browser.find_element(By.ID, "follow-start").click()
    wait_for(browser, lambda: "running" in job_state(browser), "the job never ran")
    job = new_job(celery_worker, before)
    append(access, ["before the stop"])
    wait_for(browser, lambda: "before the stop" in shown_lines(browser), "no line showed")

    browser.find_element(By.ID, "follow-stop").click()
    wait_for(browser, lambda: "Stopped" in job_state(browser), "the page never said Stopped")
    assert wait_until(lambda: celery_worker.finished(job), STOP_ALLOWED_SECONDS), (
        "Stop did not end the job"
    )
    append(access, ["after the stop"])
    time.sleep(1)  # a line would arrive within this time (the one above did)
    assert "after the stop" not in shown_lines(browser)
    assert browser.find_element(By.ID, "follow-stop").get_property("disabled")
    assert browser.find_element(By.ID, "follow-start").is_enabled()


# --- From step 12: the logs are for staff only, and a user runs a few jobs at most --------


@pytest.mark.needs("task-limits")
def test_the_logs_are_for_staff_only(server):
    # ALICE is logged in but not staff: the page says why with a 403 (not the login page
    # again, where she is logged in already), and the socket closes with a code of its own.
    alice = session_for(server, ALICE)
    status, url, body = fetch(server.url + "/logs/", alice)
    assert (status, url) == (403, server.url + "/logs/"), (status, url)
    assert "Only staff can follow server logs" in body, body
    assert str(server.project_dir) not in body
    status, _, body = fetch(server.url + "/logs/", session_for(server))  # STUDENT is staff
    assert status == 200 and 'id="follow-start"' in body, status

    async def scenario():
        async with logs_socket(server, "access", session=alice) as socket:
            assert await close_code(socket) == NOT_STAFF

    asyncio.run(scenario())


def new_staff_account(server) -> Account:
    """A staff account of its own, in the served copy: no other test holds its jobs."""
    account = Account(f"staff-{uuid.uuid4().hex[:8]}", "staff-password-7", staff=True)
    create_accounts(server.project_dir, server.env, (account,))
    return account


@pytest.mark.needs("task-limits")
def test_a_user_runs_at_most_chat_jobs_per_user_jobs_at_once(server, start_server, celery_worker):
    # A server with a limit of its own, 2, beside the shared one (whose limit the tests
    # raise); the same copy, Redis and Celery worker.
    limited = start_server(CHAT_JOBS_PER_USER="2")
    session = session_for(limited, new_staff_account(limited))
    access = log_path(limited, "access")
    before = celery_worker.running_jobs()

    async def scenario():
        async with following(limited, "access", session) as first:
            first_job = new_job(celery_worker, before)
            async with following(limited, "access", session) as second:
                async with logs_socket(limited, "access", session) as one_too_many:
                    assert await close_code(one_too_many) == TOO_MANY_JOBS
                # Another user's jobs are not counted: STUDENT follows all the same.
                async with following(limited, "access") as other_user:
                    append(access, ["while two run"])
                    for page in (first, second, other_user):
                        assert await lines_of(page, 1) == ["while two run"]
                # Stop one (its socket closes), and its slot is free for the next job.
                await first.close()
                assert await asyncio.to_thread(
                    wait_until, lambda: celery_worker.finished(first_job), STOP_ALLOWED_SECONDS
                ), "the job ran on after its socket closed"
                async with following(limited, "access", session) as third:
                    append(access, ["after one stopped"])
                    assert await lines_of(third, 1) == ["after one stopped"]

    asyncio.run(scenario())


@pytest.mark.needs("task-limits")
def test_the_page_says_why_a_job_was_refused(server, start_server, celery_worker, browser):
    # With no jobs allowed at all, every Follow is refused with 4429, whatever else runs.
    limited = start_server(CHAT_JOBS_PER_USER="0")
    log_path(limited, "access")
    open_page(browser, limited, "/logs/")
    browser.find_element(By.ID, "follow-start").click()
    wait_for(
        browser,
        lambda: "(code 4429)" in job_state(browser),
        "the page never said why its job was refused",
    )
    assert "Too many jobs: stop one first" in job_state(browser)
    assert browser.find_element(By.ID, "follow-start").is_enabled()
