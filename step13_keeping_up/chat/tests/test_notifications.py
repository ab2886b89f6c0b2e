"""Notifications: a socket per user, and commands that push to it from outside the chat.

The commands need a layer that another process can reach: those tests use the
Redis of settings.py, as the browser tests do.
"""

import io

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import CommandError, call_command
from django.test import AsyncClient, SimpleTestCase, TransactionTestCase, override_settings

from chat.consumers import LAYER_UNAVAILABLE, NOT_LOGGED_IN
from chat.rooms import ROOM_NAME_RULE
from chat.routing import websocket_urlpatterns
from chatsite.asgi import application as site_application

from .test_consumers import IN_MEMORY_LAYER, UNREACHABLE_LAYER, join

application = URLRouter(websocket_urlpatterns)


def use_a_fresh_redis_layer(test):
    """Give the test a channel layer of its own. Each async test runs in an event
    loop of its own, and the Redis layer's connections and locks belong to the loop
    that made them: shared, a later test can fail with "... is bound to a different
    event loop". Changing CHANNEL_LAYERS makes Channels build a new layer."""
    override = override_settings(CHANNEL_LAYERS=settings.CHANNEL_LAYERS)
    override.enable()
    test.addCleanup(override.disable)


async def open_notifications(username):
    """A logged-in page's notification socket."""
    communicator = WebsocketCommunicator(application, "/ws/notifications/")
    communicator.scope["user"], _ = await User.objects.aget_or_create(username=username)
    connected, _ = await communicator.connect()
    assert connected, f"{username}'s notification socket did not connect"
    return communicator


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
    def setUp(self):
        use_a_fresh_redis_layer(self)

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


# Logging out through the site (POST /accounts/logout/, as the page's button does):
# the sockets that session opened are closed, the same user's other sessions stay.
# Redis, as in CommandTests: push.py refuses the in-memory layer.
class LogoutTests(TransactionTestCase):
    def setUp(self):
        use_a_fresh_redis_layer(self)

    async def open_socket(self, path, client):
        """A socket opened by a page of client's session, through asgi.py's auth stack."""
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        headers = [(b"origin", b"http://testserver"), (b"cookie", cookie)]
        communicator = WebsocketCommunicator(site_application, path, headers=headers)
        connected, _ = await communicator.connect()
        self.assertTrue(connected, path)
        return communicator

    async def test_logging_out_closes_that_sessions_sockets_and_no_others(self):
        user = await User.objects.acreate_user("bob", password="a long password")
        laptop, phone = self.async_client, AsyncClient()
        for client in (laptop, phone):
            await client.aforce_login(user)
        room = await self.open_socket("/ws/chat/lobby/", laptop)
        await room.receive_json_from()  # the history
        notifications = await self.open_socket("/ws/notifications/", laptop)
        on_the_phone = await self.open_socket("/ws/notifications/", phone)

        logged_out = await laptop.post("/accounts/logout/")
        self.assertRedirects(logged_out, "/accounts/login/", fetch_redirect_response=False)

        for socket in (room, notifications):
            closed = await socket.receive_output(timeout=5)
            self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
        # The phone's session is another: its socket still gets bob's notifications.
        await get_channel_layer().group_send(
            f"user_{user.pk}", {"type": "notification", "text": "still here"}
        )
        self.assertEqual(
            await on_the_phone.receive_json_from(timeout=5), {"notification": "still here"}
        )
        for socket in (room, notifications, on_the_phone):
            await socket.disconnect()

    @override_settings(CHANNEL_LAYERS=UNREACHABLE_LAYER)
    def test_logging_out_works_while_redis_is_down(self):
        self.client.force_login(User.objects.create_user("bob", password="a long password"))
        with self.assertLogs("chat.push", "WARNING") as logs:
            self.assertRedirects(self.client.post("/accounts/logout/"), "/accounts/login/")
        self.assertIn("Sockets not closed at logout", logs.output[0])
        self.assertNotIn("_auth_user_id", self.client.session)
