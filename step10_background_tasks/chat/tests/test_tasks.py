"""Background jobs: the /logs/ page's socket, and the Celery task that follows a file.

The task runs in a real Celery worker, started inside the test process by Celery's
own test helper (start_worker), with the Redis of settings.py as broker, cache and
channel layer, as in production: these tests need Redis running. Not Celery's
eager mode (CELERY_TASK_ALWAYS_EAGER): it would run the task inside the test's
event loop, where async_to_sync refuses to run ("You cannot use AsyncToSync in
the same thread as an async event loop").
"""

import asyncio
import tempfile
import uuid
from pathlib import Path
from unittest import mock

from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.test import TransactionTestCase, override_settings

from chat import consumers
from chat.consumers import NOT_LOGGED_IN
from chat.routing import websocket_urlpatterns
from chat.tasks import job_key
from chatsite.celery import app as celery_app

application = URLRouter(websocket_urlpatterns)

# A queue of these tests' own, instead of Celery's default one ("celery"): a worker you
# left running for the site, on the same Redis, would otherwise take the tests' jobs.
celery_app.conf.task_default_queue = f"chat-tests-{uuid.uuid4().hex[:8]}"

# The tests' own log files, in a temporary folder: "test" exists, "missing" does not.
LOG_DIR = tempfile.TemporaryDirectory(prefix="chat-logs-")
TEST_LOGS = {name: Path(LOG_DIR.name) / f"{name}.log" for name in ("test", "missing")}


def tearDownModule():
    LOG_DIR.cleanup()


async def open_logs_page(username="alice"):
    """The /logs/ page's socket, logged in."""
    communicator = WebsocketCommunicator(application, "/ws/logs/")
    communicator.scope["user"], _ = await User.objects.aget_or_create(username=username)
    connected, _ = await communicator.connect()
    assert connected, "the logs socket did not connect"
    return communicator


def append(*lines):
    with open(TEST_LOGS["test"], "a", encoding="utf-8") as log:
        log.write("".join(line + "\n" for line in lines))


async def job_is_over(job_id, timeout=5):
    """Wait until the worker runs the job no more; False if it still does after timeout."""
    for _ in range(int(timeout / 0.1)):
        if job_id not in {request.id for request in worker_state.active_requests}:
            return True
        await asyncio.sleep(0.1)
    return False


@override_settings(FOLLOWED_LOGS=TEST_LOGS)
class FollowLogTests(TransactionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        TEST_LOGS["test"].touch()
        # A real worker, in a thread of this process: the threads pool, 4 jobs at once.
        cls.worker = start_worker(
            celery_app, pool="threads", concurrency=4, perform_ping_check=False
        )
        cls.worker.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.worker.__exit__(None, None, None)
        super().tearDownClass()

    async def follow(self, page, name="test"):
        """Start following a log; returns the job's id once the worker runs it."""
        await page.send_json_to({"follow": name})
        queued = await page.receive_json_from()
        self.assertEqual((queued["state"], queued["log"]), ("queued", name))
        running = await page.receive_json_from(timeout=10)
        self.assertEqual(running, {"job": queued["job"], "state": "running"})
        return queued["job"]

    async def test_new_lines_arrive_in_order_and_stop_ends_the_job(self):
        page = await open_logs_page()
        job = await self.follow(page)
        append("first", "second", "third")
        for text in ("first", "second", "third"):
            self.assertEqual(await page.receive_json_from(timeout=5), {"job": job, "line": text})
        await page.send_json_to({"stop": True})
        self.assertEqual(await page.receive_json_from(), {"job": job, "state": "stopped"})
        append("after the stop")
        self.assertTrue(await page.receive_nothing(timeout=1))
        self.assertIsNone(await cache.aget(job_key(job)))
        self.assertTrue(await job_is_over(job), "the job still runs after Stop")
        await page.disconnect()

    async def test_two_pages_get_only_their_own_jobs_lines(self):
        alice, bob = await open_logs_page("alice"), await open_logs_page("bob")
        alices_job, bobs_job = await self.follow(alice), await self.follow(bob)
        append("for both")
        self.assertEqual(await alice.receive_json_from(5), {"job": alices_job, "line": "for both"})
        self.assertEqual(await bob.receive_json_from(5), {"job": bobs_job, "line": "for both"})
        await alice.send_json_to({"stop": True})
        await alice.receive_json_from()  # stopped
        append("for bob")
        self.assertEqual(await bob.receive_json_from(5), {"job": bobs_job, "line": "for bob"})
        self.assertTrue(await alice.receive_nothing())
        for page in (alice, bob):
            await page.disconnect()

    async def test_closing_the_page_stops_the_job(self):
        page = await open_logs_page()
        job = await self.follow(page)
        await page.disconnect()
        self.assertTrue(await job_is_over(job), "the job still runs after its page closed")

    async def test_a_failing_job_reports_its_error_and_the_worker_goes_on(self):
        page = await open_logs_page()
        await page.send_json_to({"follow": "missing"})
        job = (await page.receive_json_from())["job"]
        failed = await page.receive_json_from(10)
        self.assertEqual(failed["state"], "failed")
        self.assertIn("FileNotFoundError", failed["error"])
        self.assertIsNone(await cache.aget(job_key(job)))
        await self.follow(page)  # the worker takes the next job
        await page.disconnect()


@override_settings(FOLLOWED_LOGS=TEST_LOGS)
class LogSocketTests(TransactionTestCase):
    async def test_an_anonymous_socket_is_closed_with_a_code_that_says_why(self):
        communicator = WebsocketCommunicator(application, "/ws/logs/")
        communicator.scope["user"] = AnonymousUser()
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        closed = await communicator.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
        await communicator.disconnect()

    async def test_a_path_or_an_unknown_name_is_refused(self):
        page = await open_logs_page()
        for request in ({"follow": "/etc/passwd"}, {"follow": ["test"]}, {"start": "test"}):
            await page.send_json_to(request)
            answer = await page.receive_json_from()
            self.assertIn("NAME one of: test, missing", answer["error"])
        await page.disconnect()

    # No worker runs in this class: the job waits in the queue, and the page is told.
    @mock.patch.object(consumers, "WORKER_START_SECONDS", 1)
    async def test_without_a_worker_the_page_is_told(self):
        page = await open_logs_page()
        await page.send_json_to({"follow": "test"})
        job = (await page.receive_json_from())["job"]
        answer = await page.receive_json_from(timeout=5)
        self.assertEqual(answer["state"], "not started")
        self.assertIn("celery -A chatsite worker", answer["error"])
        # Its flag is gone: a worker that takes it later ends it at once.
        self.assertIsNone(await cache.aget(job_key(job)))
        await page.disconnect()
