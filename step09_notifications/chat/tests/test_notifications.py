"""Notifications: a socket per user, mentions delivered by a worker, and commands
that push from outside the chat.

The worker runs inside the test, in the test's event loop: channels.worker.Worker
is what `manage.py runworker` runs, here on the in-memory layer. The commands
need a layer that another process can reach: those tests use the Redis of
settings.py, as the browser tests do.
"""

import asyncio
import contextlib
import io
from unittest import mock

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from channels.worker import Worker
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from chat import consumers
from chat.consumers import LAYER_UNAVAILABLE, NOT_LOGGED_IN
from chat.mentions import MENTIONS_CHANNEL, find_mentions
from chat.rooms import ROOM_NAME_RULE
from chat.routing import websocket_urlpatterns
from chatsite.asgi import application as site_application

from .test_consumers import IN_MEMORY_LAYER, UNREACHABLE_LAYER, join

application = URLRouter(websocket_urlpatterns)


@contextlib.asynccontextmanager
async def mentions_worker():
    """What `manage.py runworker mentions` runs, here in the test's event loop."""
    worker = Worker(site_application, [MENTIONS_CHANNEL], get_channel_layer())
    task = asyncio.create_task(worker.arun())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# The tests wait this long for the worker's answer, instead of the real 3 s.
QUICK_REPLY_SECONDS = 0.5


async def open_notifications(username):
    """A logged-in page's notification socket."""
    communicator = WebsocketCommunicator(application, "/ws/notifications/")
    communicator.scope["user"], _ = await User.objects.aget_or_create(username=username)
    connected, _ = await communicator.connect()
    assert connected, f"{username}'s notification socket did not connect"
    return communicator


class FindMentionsTests(TransactionTestCase):
    def test_names_after_an_at_sign_each_once_in_order(self):
        self.assertEqual(find_mentions("@bob and @ann.lee, @bob!"), ["bob", "ann.lee"])

    def test_an_email_address_mentions_nobody(self):
        self.assertEqual(find_mentions("mail bob@example.org or @ alone"), [])


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
@mock.patch.object(consumers, "WORKER_REPLY_SECONDS", QUICK_REPLY_SECONDS)
class MentionTests(TransactionTestCase):
    async def test_a_mention_notifies_that_user_and_nobody_else(self):
        async with mentions_worker():
            bob = await open_notifications("bob")
            carol = await open_notifications("carol")
            alice = await join("lobby", "alice")
            await alice.send_json_to({"message": "hi @bob"})
            self.assertEqual(
                await bob.receive_json_from(timeout=5),
                {"notification": 'alice mentioned you in room "lobby": hi @bob'},
            )
            self.assertTrue(await carol.receive_nothing())
            # Alice gets her message, and no note: the worker answered in time.
            self.assertEqual((await alice.receive_json_from())["message"], "hi @bob")
            self.assertTrue(await alice.receive_nothing(timeout=2 * QUICK_REPLY_SECONDS))
            for communicator in (alice, bob, carol):
                await communicator.disconnect()

    async def test_oneself_and_unknown_names_notify_nobody(self):
        async with mentions_worker():
            alices_page = await open_notifications("alice")
            alice = await join("lobby", "alice")
            await alice.send_json_to({"message": "@alice @nobody-here"})
            await alice.receive_json_from()  # the message itself
            self.assertTrue(await alices_page.receive_nothing(timeout=2 * QUICK_REPLY_SECONDS))
            self.assertTrue(await alice.receive_nothing(), "the worker did not answer")
            await alice.disconnect()
            await alices_page.disconnect()

    async def test_a_page_that_leaves_before_the_answer_leaves_no_timer_behind(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "hi @bob"})  # no worker runs: no answer comes
        await alice.receive_json_from()  # the message itself
        timers = [
            task
            for task in asyncio.all_tasks()
            if task.get_coro().__name__ == "wait_for_the_worker"
        ]
        self.assertEqual(len(timers), 1)
        await alice.disconnect()  # before the timer ran out
        # disconnect() cancels it: a timer left running would send to a closed socket.
        await asyncio.wait(timers, timeout=4 * QUICK_REPLY_SECONDS)
        self.assertTrue(timers[0].cancelled())

    async def test_without_a_worker_the_sender_is_told(self):
        bob = await open_notifications("bob")
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "hi @bob"})
        await alice.receive_json_from()  # the message itself
        note = (await alice.receive_json_from(timeout=5))["note"]
        self.assertIn("@bob not notified", note)
        self.assertIn("runworker mentions", note)
        self.assertTrue(await bob.receive_nothing())
        await alice.disconnect()
        await bob.disconnect()


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class NotificationConsumerTests(TransactionTestCase):
    async def test_an_anonymous_socket_is_closed_with_a_code_that_says_why(self):
        communicator = WebsocketCommunicator(application, "/ws/notifications/")
        communicator.scope["user"] = AnonymousUser()
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        closed = await communicator.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
        await communicator.disconnect()

    async def test_every_page_of_the_user_gets_it_and_no_one_else(self):
        bob = await open_notifications("bob")
        bobs_other_page = await open_notifications("bob")
        carol = await open_notifications("carol")
        user = await User.objects.aget(username="bob")
        await get_channel_layer().group_send(
            f"user_{user.pk}", {"type": "notification", "text": "<b>hello</b>"}
        )
        for page in (bob, bobs_other_page):
            self.assertEqual(await page.receive_json_from(), {"notification": "<b>hello</b>"})
        self.assertTrue(await carol.receive_nothing())
        for communicator in (bob, bobs_other_page, carol):
            await communicator.disconnect()

    async def test_a_room_shows_an_announcement(self):
        alice = await join("lobby", "alice")
        await get_channel_layer().group_send(
            "chat_lobby", {"type": "chat.announcement", "text": "closing soon"}
        )
        self.assertEqual(await alice.receive_json_from(), {"announcement": "closing soon"})
        await alice.disconnect()


@override_settings(CHANNEL_LAYERS=UNREACHABLE_LAYER)
class NotificationRedisDownTests(SimpleTestCase):
    async def test_the_socket_is_closed_with_a_code_that_says_why(self):
        # As the room's socket (test_consumers.py): the page learns that Redis is away.
        communicator = WebsocketCommunicator(application, "/ws/notifications/")
        communicator.scope["user"] = User(username="bob")
        with self.assertLogs("chat.consumers", "WARNING") as logs:
            connected, _ = await communicator.connect(timeout=10)
            self.assertTrue(connected)
            closed = await communicator.receive_output(timeout=10)
        self.assertEqual(closed, {"type": "websocket.close", "code": LAYER_UNAVAILABLE})
        self.assertIn("Socket /ws/notifications/: channel layer unreachable", logs.output[0])


class CommandRefusalTests(TransactionTestCase):
    def test_a_bad_room_name_names_the_rule(self):
        with self.assertRaisesMessage(CommandError, ROOM_NAME_RULE):
            call_command("announce", "no spaces please", "hello")

    def test_an_unknown_user_is_an_error(self):
        with self.assertRaisesMessage(CommandError, 'No user is named "nobody"'):
            call_command("notify", "nobody", "hello")

    @override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
    def test_the_in_memory_layer_cannot_reach_the_server(self):
        with self.assertRaisesMessage(CommandError, "cannot reach another process"):
            call_command("announce", "lobby", "hello")

    @override_settings(CHANNEL_LAYERS=UNREACHABLE_LAYER)
    def test_redis_down_is_an_error(self):
        User.objects.create(username="bob")
        with self.assertRaisesMessage(CommandError, "Could not reach the channel layer"):
            call_command("notify", "bob", "hello")


# The commands' real path: the Redis layer of settings.py (Redis must be running).
class CommandTests(TransactionTestCase):
    async def test_notify_reaches_the_users_open_page(self):
        bob = await open_notifications("bob")
        output = io.StringIO()
        await sync_to_async(call_command)("notify", "bob", "from the shell", stdout=output)
        self.assertIn('Notified "bob"', output.getvalue())
        self.assertEqual(await bob.receive_json_from(timeout=5), {"notification": "from the shell"})
        await bob.disconnect()

    async def test_announce_reaches_everyone_in_the_room(self):
        alice = await join("lobby", "alice")
        output = io.StringIO()
        await sync_to_async(call_command)("announce", "lobby", "closing soon", stdout=output)
        self.assertIn('Announced in room "lobby"', output.getvalue())
        self.assertEqual(await alice.receive_json_from(timeout=5), {"announcement": "closing soon"})
        await alice.disconnect()
