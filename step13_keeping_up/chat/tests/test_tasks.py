"""Background jobs: the /logs/ page's socket, and the Celery task that follows a file.

The task runs in a real Celery worker, started inside the test process by Celery's
own test helper (start_worker), with the Redis of settings.py as broker, cache and
channel layer, as in production: these tests need Redis running. Not Celery's eager mode
(CELERY_TASK_ALWAYS_EAGER): it would run the task inside the test's event loop,
where async_to_sync refuses to run ("You cannot use AsyncToSync in the same thread
as an async event loop").
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
from django.test import TransactionTestCase, override_settings

from chat import consumers
from chat.consumers import NO_SUCH_LOG, NOT_LOGGED_IN, NOT_STAFF, TOO_MANY_JOBS
from chat.routing import websocket_urlpatterns
from chatsite.celery import app as celery_app

from .test_notifications import use_a_fresh_redis_layer

application = URLRouter(websocket_urlpatterns)

# A queue of these tests' own, instead of Celery's default one ("celery"): a worker you
# left running for the site, on the same Redis, would otherwise take the tests' jobs.
celery_app.conf.task_default_queue = f"chat-tests-{uuid.uuid4().hex[:8]}"

# The tests' own log files, in a temporary folder: "test" exists, "missing" does not.
LOG_DIR = tempfile.TemporaryDirectory(prefix="chat-logs-")
TEST_LOGS = {name: Path(LOG_DIR.name) / f"{name}.log" for name in ("test", "missing")}

# A job's flag lasts this long here: longer than a test, shorter than the real ten
# minutes, which the worker would wait for before it stops.
TEST_RUN_SECONDS = 20


def tearDownModule():
    LOG_DIR.cleanup()


async def open_logs_page(log_name="test", username="alice", staff=True):
    """The /logs/ page's socket for one log, logged in (as staff unless staff=False)."""
    communicator = WebsocketCommunicator(application, f"/ws/logs/{log_name}/")
    communicator.scope["user"], _ = await User.objects.aupdate_or_create(
        username=username, defaults={"is_staff": staff}
    )
    connected, _ = await communicator.connect()
    assert connected, "the logs socket did not connect"
    return communicator


def append(*lines):
    with open(TEST_LOGS["test"], "a", encoding="utf-8") as log:
        log.write("".join(line + "\n" for line in lines))


async def no_job_runs(timeout=5):
    """Wait until the worker runs no job; False if one still runs after timeout."""
    for _ in range(int(timeout / 0.1)):
        if not worker_state.active_requests:
            return True
        await asyncio.sleep(0.1)
    return False


@override_settings(FOLLOWED_LOGS=TEST_LOGS)
@mock.patch.object(consumers, "MAX_RUN_SECONDS", TEST_RUN_SECONDS)
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

    def setUp(self):
        use_a_fresh_redis_layer(self)

    async def follow(self, log_name="test", username="alice"):
        """A page that follows a log, once the worker runs its job."""
        page = await open_logs_page(log_name, username)
        self.assertEqual(await page.receive_json_from(timeout=10), {"state": "running"})
        return page

    async def test_new_lines_arrive_in_order(self):
        page = await self.follow()
        append("first", "second", "third")
        for text in ("first", "second", "third"):
            self.assertEqual(await page.receive_json_from(timeout=5), {"line": text})
        await page.disconnect()

    async def test_two_pages_get_every_line_until_one_stops(self):
        alice, bob = await self.follow(username="alice"), await self.follow(username="bob")
        append("for both")
        for page in (alice, bob):
            self.assertEqual(await page.receive_json_from(timeout=5), {"line": "for both"})
        await alice.disconnect()  # Stop: the page closes its socket
        append("for bob")
        self.assertEqual(await bob.receive_json_from(timeout=5), {"line": "for bob"})
        await bob.disconnect()

    async def test_closing_the_page_stops_the_job(self):
        page = await self.follow()
        await page.disconnect()
        self.assertTrue(await no_job_runs(), "the job still runs after its page closed")

    async def test_a_bug_in_a_handler_still_stops_the_job(self):
        # Channels does not run disconnect() when a handler raises;
        # LayerAwareConsumer.__call__ does, so the flag goes and the job ends.
        page = await self.follow()
        bug = RuntimeError("a bug in job_line")
        with mock.patch.object(consumers.LogConsumer, "job_line", side_effect=bug):
            append("a line that meets the bug")
            with self.assertRaises(RuntimeError):  # raised again, for Daphne to log
                await page.wait(timeout=5)
        self.assertTrue(await no_job_runs(), "the job runs on after its consumer raised")

    async def test_a_job_ends_when_its_flag_expires(self):
        # Its page never says goodbye (its server was killed, say): the flag runs out.
        with mock.patch.object(consumers, "MAX_RUN_SECONDS", 1):
            page = await self.follow()
        ended = await no_job_runs()
        await page.disconnect()
        self.assertTrue(ended, "the job outlived its flag")

    @override_settings(CHAT_JOBS_PER_USER=2)
    async def test_a_user_runs_at_most_chat_jobs_per_user_jobs(self):
        first, second = await self.follow(), await self.follow()
        third = await open_logs_page()
        closed = await third.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": TOO_MANY_JOBS})
        await third.disconnect()
        # Another user's jobs do not count.
        await (await self.follow(username="bob")).disconnect()
        # Stop one, and the next one runs.
        await first.disconnect()
        fourth = await self.follow()
        for page in (second, fourth):
            await page.disconnect()

    @override_settings(CHAT_JOBS_PER_USER=1)
    async def test_a_slot_is_free_again_however_its_socket_ended(self):
        page = await self.follow()
        with mock.patch.object(consumers.LogConsumer, "job_line", side_effect=RuntimeError):
            append("a line that meets a bug")
            with self.assertRaises(RuntimeError):
                await page.wait(timeout=5)
        await (await self.follow()).disconnect()

    @override_settings(CHAT_JOBS_PER_USER=1)
    async def test_a_slot_expires_with_its_job(self):
        # Its server was killed, say: nobody frees the slot, but it runs out.
        with mock.patch.object(consumers, "MAX_RUN_SECONDS", 1):
            gone = await self.follow()
        self.assertTrue(await no_job_runs(), "the job outlived its flag")
        await asyncio.sleep(0.5)  # Redis forgets an expired key within a moment
        await (await self.follow()).disconnect()
        await gone.disconnect()

    async def test_a_failing_job_reports_its_error_and_the_worker_goes_on(self):
        page = await open_logs_page("missing")
        failed = await page.receive_json_from(timeout=10)
        self.assertEqual(failed["state"], "failed")
        self.assertIn("No such file", failed["error"])
        self.assertNotIn(LOG_DIR.name, failed["error"], "the page must not see the server's paths")
        await page.disconnect()
        await (await self.follow()).disconnect()  # the worker takes the next job


@override_settings(FOLLOWED_LOGS=TEST_LOGS)
class LogSocketTests(TransactionTestCase):
    async def test_an_anonymous_socket_is_closed_with_a_code_that_says_why(self):
        communicator = WebsocketCommunicator(application, "/ws/logs/test/")
        communicator.scope["user"] = AnonymousUser()
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        closed = await communicator.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
        await communicator.disconnect()

    async def test_a_user_who_is_not_staff_is_refused_with_a_code_that_says_why(self):
        page = await open_logs_page(staff=False)
        closed = await page.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_STAFF})
        await page.disconnect()

    async def test_an_unknown_log_name_is_refused(self):
        page = await open_logs_page("passwd")
        closed = await page.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NO_SUCH_LOG})
        await page.disconnect()


class LogPageTests(TransactionTestCase):
    def test_the_page_is_for_staff_and_says_so_to_others(self):
        user = User.objects.create_user("carol", password="carol-password-7")
        self.client.force_login(user)
        refused = self.client.get("/logs/")
        self.assertEqual(refused.status_code, 403)  # not a way back to the login page
        self.assertContains(refused, "Only staff can follow server logs", status_code=403)
        user.is_staff = True
        user.save()
        self.assertContains(self.client.get("/logs/"), 'value="Follow"')
