"""Consumer tests: talk to ChatConsumer directly, with no server, browser or Redis.

WebsocketCommunicator plays the browser: it connects to an ASGI application,
sends frames and receives what the consumer sends back. Most tests put a user
straight into the socket's scope; LoggedInSocketTests goes the whole way, with a
session cookie through asgi.py, as a browser does.
"""

import json

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from chat.consumers import LAYER_UNAVAILABLE, MAX_MESSAGE_LENGTH, NOT_LOGGED_IN
from chat.routing import websocket_urlpatterns
from chatsite.asgi import application as site_application

# The routing from asgi.py, without the origin check and the auth stack: we test
# the consumer here, and hand it its user directly (see join below).
application = URLRouter(websocket_urlpatterns)

# The in-memory layer lives inside this test process, so these tests need no
# Redis. It cannot reach other processes, which is fine for a test.
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The chat's layer pointed at a port where nothing listens: Redis is "down".
UNREACHABLE_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


async def join(room_name, username="alice"):
    """Open a socket to a room as a logged-in user, as the room page does."""
    communicator = WebsocketCommunicator(application, f"/ws/chat/{room_name}/")
    # What AuthMiddlewareStack would put there. A User needs no database row
    # to be "authenticated": being a User (not an AnonymousUser) is enough.
    communicator.scope["user"] = User(username=username)
    connected, _ = await communicator.connect()
    assert connected, f"could not join room {room_name!r}"
    return communicator


# SimpleTestCase: these tests use no database. That also keeps them clear of a
# known trap: async consumer tests in a database test case can leave Django's
# connection closed for the tests after them ("Cannot operate on a closed
# database", channels issue #2118).
@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class ChatConsumerTests(SimpleTestCase):
    async def test_member_receives_own_message(self):
        alice = await join("lobby")
        await alice.send_json_to({"message": "hello"})
        self.assertEqual(await alice.receive_json_from(), {"user": "alice", "message": "hello"})
        await alice.disconnect()

    async def test_two_members_see_each_other(self):
        alice = await join("lobby", "alice")
        bob = await join("lobby", "bob")
        await alice.send_json_to({"message": "hi bob"})
        self.assertEqual(await bob.receive_json_from(), {"user": "alice", "message": "hi bob"})
        await bob.send_json_to({"message": "hi alice"})
        # Alice gets her own message first, then Bob's.
        self.assertEqual(await alice.receive_json_from(), {"user": "alice", "message": "hi bob"})
        self.assertEqual(await alice.receive_json_from(), {"user": "bob", "message": "hi alice"})
        await alice.disconnect()
        await bob.disconnect()

    async def test_other_room_sees_nothing(self):
        alice = await join("lobby")
        carol = await join("kitchen")
        await alice.send_json_to({"message": "lobby only"})
        self.assertEqual(
            await alice.receive_json_from(), {"user": "alice", "message": "lobby only"}
        )
        self.assertTrue(await carol.receive_nothing())
        await alice.disconnect()
        await carol.disconnect()


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class BadInputTests(SimpleTestCase):
    """Each bad frame gets an error reply, reaches nobody else, and the socket lives on."""

    async def assert_refused(self, send_bad_frame):
        sender = await join("lobby")
        listener = await join("lobby")
        await send_bad_frame(sender)

        reply = await sender.receive_json_from()
        self.assertIn("error", reply)
        self.assertTrue(await listener.receive_nothing(), "the bad frame was broadcast")

        # The same socket still works for a good message.
        await sender.send_json_to({"message": "still here"})
        self.assertEqual(
            await listener.receive_json_from(), {"user": "alice", "message": "still here"}
        )
        await sender.disconnect()
        await listener.disconnect()

    async def test_not_json(self):
        await self.assert_refused(lambda ws: ws.send_to(text_data="hello"))

    async def test_json_without_message(self):
        await self.assert_refused(lambda ws: ws.send_json_to({"text": "hello"}))

    async def test_json_that_is_not_an_object(self):
        await self.assert_refused(lambda ws: ws.send_json_to(["hello"]))

    async def test_message_not_a_string(self):
        await self.assert_refused(lambda ws: ws.send_json_to({"message": 42}))

    async def test_empty_message(self):
        await self.assert_refused(lambda ws: ws.send_json_to({"message": "  "}))

    async def test_message_too_long(self):
        too_long = "x" * (MAX_MESSAGE_LENGTH + 1)
        await self.assert_refused(lambda ws: ws.send_json_to({"message": too_long}))

    async def test_lone_surrogate(self):
        # Half of a two-part character, spelled in JSON: "\ud800" alone.
        await self.assert_refused(lambda ws: ws.send_to(text_data='{"message": "\\ud800"}'))

    async def test_binary_frame(self):
        payload = json.dumps({"message": "hello"}).encode()
        await self.assert_refused(lambda ws: ws.send_to(bytes_data=payload))

    async def test_longest_allowed_message_is_accepted(self):
        alice = await join("lobby")
        longest = "x" * MAX_MESSAGE_LENGTH
        await alice.send_json_to({"message": longest})
        self.assertEqual(await alice.receive_json_from(), {"user": "alice", "message": longest})
        await alice.disconnect()


@override_settings(CHANNEL_LAYERS=UNREACHABLE_LAYER)
class RedisDownTests(SimpleTestCase):
    async def test_the_socket_is_closed_with_a_code_that_says_why(self):
        communicator = WebsocketCommunicator(application, "/ws/chat/lobby/")
        communicator.scope["user"] = User(username="alice")
        with self.assertLogs("chat.consumers", "WARNING") as logs:
            connected, _ = await communicator.connect(timeout=10)
            # Accepted first, so that the close code can reach the page.
            self.assertTrue(connected)
            closed = await communicator.receive_output(timeout=10)
        self.assertEqual(closed, {"type": "websocket.close", "code": LAYER_UNAVAILABLE})
        self.assertIn("channel layer unreachable", logs.output[0])


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class WhoIsTalkingTests(SimpleTestCase):
    async def test_an_anonymous_socket_is_closed_with_a_code_that_says_why(self):
        communicator = WebsocketCommunicator(application, "/ws/chat/lobby/")
        communicator.scope["user"] = AnonymousUser()
        connected, _ = await communicator.connect()
        # Accepted first, so that the close code can reach the page.
        self.assertTrue(connected)
        closed = await communicator.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
        # disconnect() runs for a refused socket too, and must not fail.
        await communicator.disconnect()

    async def test_a_name_in_the_frame_is_ignored(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"user": "admin", "message": "it is me, admin"})
        self.assertEqual(
            await alice.receive_json_from(), {"user": "alice", "message": "it is me, admin"}
        )
        await alice.disconnect()


# The whole way, as a browser goes: a real session from a login, its cookie and
# an Origin header, through asgi.py's origin check and auth stack.
# TransactionTestCase: the auth stack reads the session from the database in
# another thread, which TestCase's per-test transaction would hide from it.
@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class LoggedInSocketTests(TransactionTestCase):
    def open_socket(self, cookie):
        headers = [(b"origin", b"http://testserver")]
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        return WebsocketCommunicator(site_application, "/ws/chat/lobby/", headers=headers)

    async def test_the_session_cookie_names_the_sender(self):
        user = await User.objects.acreate_user("bob", password="a long password")
        await self.client.aforce_login(user)
        bob = self.open_socket(self.client.cookies["sessionid"].value)
        connected, _ = await bob.connect()
        self.assertTrue(connected)
        await bob.send_json_to({"message": "hi"})
        self.assertEqual(await bob.receive_json_from(), {"user": "bob", "message": "hi"})
        await bob.disconnect()

    async def test_a_forged_session_cookie_is_anonymous(self):
        forged = self.open_socket("not-a-session-the-server-knows")
        connected, _ = await forged.connect()
        self.assertTrue(connected)
        closed = await forged.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})
