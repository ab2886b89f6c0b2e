"""Consumer tests: talk to ChatConsumer directly, with no server, browser or Redis.

WebsocketCommunicator plays the browser: it connects to an ASGI application,
sends frames and receives what the consumer sends back. Most tests put a user
straight into the socket's scope; LoggedInSocketTests goes the whole way, with a
session cookie through asgi.py, as a browser does. HistoryTests check what a
socket is told about the messages said before it joined.
"""

import json
from unittest import mock

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from chat import consumers
from chat.consumers import HISTORY_LENGTH, LAYER_UNAVAILABLE, MAX_MESSAGE_LENGTH, NOT_LOGGED_IN
from chat.models import Message
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
    """Open a socket to a room as a logged-in user, as the room page does.

    The consumer's first frame is the room's history: it is kept in
    communicator.history (the messages) and communicator.earlier (how many more).
    """
    communicator = WebsocketCommunicator(application, f"/ws/chat/{room_name}/")
    # What AuthMiddlewareStack would put there: a user from the database (each
    # saved message points to its sender's row).
    user, _ = await User.objects.aget_or_create(username=username)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected, f"could not join room {room_name!r}"
    first_frame = await communicator.receive_json_from()
    communicator.history, communicator.earlier = first_frame["history"], first_frame["earlier"]
    return communicator


async def receive_message(communicator):
    """The next chat message on a socket as {"user": ..., "message": ...}.

    Its id and time are taken off (they differ every run), after checking that
    they are there.
    """
    frame = await communicator.receive_json_from()
    assert isinstance(frame.pop("id"), int), "a message has a numeric id"
    assert frame.pop("created"), "a message has the time it was saved"
    return frame


# TransactionTestCase: the consumer saves messages, so these tests need the
# database. Not TestCase: a consumer closes Django's database connection after
# each event, and inside TestCase's per-test transaction the tests after it then
# fail with "Cannot operate on a closed database" (channels issue #2118).
@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class ChatConsumerTests(TransactionTestCase):
    async def test_member_receives_own_message(self):
        alice = await join("lobby")
        await alice.send_json_to({"message": "hello"})
        self.assertEqual(await receive_message(alice), {"user": "alice", "message": "hello"})
        await alice.disconnect()

    async def test_two_members_see_each_other(self):
        alice = await join("lobby", "alice")
        bob = await join("lobby", "bob")
        await alice.send_json_to({"message": "hi bob"})
        self.assertEqual(await receive_message(bob), {"user": "alice", "message": "hi bob"})
        await bob.send_json_to({"message": "hi alice"})
        # Alice gets her own message first, then Bob's.
        self.assertEqual(await receive_message(alice), {"user": "alice", "message": "hi bob"})
        self.assertEqual(await receive_message(alice), {"user": "bob", "message": "hi alice"})
        await alice.disconnect()
        await bob.disconnect()

    async def test_other_room_sees_nothing(self):
        alice = await join("lobby")
        carol = await join("kitchen")
        await alice.send_json_to({"message": "lobby only"})
        self.assertEqual(await receive_message(alice), {"user": "alice", "message": "lobby only"})
        self.assertTrue(await carol.receive_nothing())
        await alice.disconnect()
        await carol.disconnect()


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class BadInputTests(TransactionTestCase):
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
            await receive_message(listener), {"user": "alice", "message": "still here"}
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
        self.assertEqual(await receive_message(alice), {"user": "alice", "message": longest})
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
class WhoIsTalkingTests(TransactionTestCase):
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
            await receive_message(alice), {"user": "alice", "message": "it is me, admin"}
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
        # A new room: its history is empty.
        self.assertEqual(await bob.receive_json_from(), {"history": [], "earlier": 0})
        await bob.send_json_to({"message": "hi"})
        self.assertEqual(await receive_message(bob), {"user": "bob", "message": "hi"})
        await bob.disconnect()

    async def test_a_forged_session_cookie_is_anonymous(self):
        forged = self.open_socket("not-a-session-the-server-knows")
        connected, _ = await forged.connect()
        self.assertTrue(connected)
        closed = await forged.receive_output()
        self.assertEqual(closed, {"type": "websocket.close", "code": NOT_LOGGED_IN})


def texts(frames):
    return [frame["message"] for frame in frames]


def shown_once_each(frames):
    """What the room page shows: each message id once, in the order they came."""
    shown = {}
    for frame in frames:
        shown.setdefault(frame["id"], frame["message"])
    return list(shown.values())


@override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER)
class HistoryTests(TransactionTestCase):
    async def test_a_later_joiner_gets_what_was_said_once_in_order(self):
        alice = await join("lobby", "alice")
        for text in ("first", "second"):
            await alice.send_json_to({"message": text})
            await receive_message(alice)
        bob = await join("lobby", "bob")
        self.assertEqual(texts(bob.history), ["first", "second"])
        self.assertEqual([frame["user"] for frame in bob.history], ["alice", "alice"])
        self.assertEqual(bob.earlier, 0)
        # Told once: in the history, and not again live.
        self.assertTrue(await bob.receive_nothing())
        await alice.disconnect()
        await bob.disconnect()

    async def test_a_history_frame_is_the_same_message_as_the_live_one(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "hello"})
        live = await alice.receive_json_from()
        bob = await join("lobby", "bob")
        self.assertEqual(bob.history, [live])
        await alice.disconnect()
        await bob.disconnect()

    async def test_another_rooms_history_never_leaks(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "lobby only"})
        await receive_message(alice)
        carol = await join("kitchen", "carol")
        self.assertEqual(carol.history, [])
        await alice.disconnect()
        await carol.disconnect()

    async def test_the_history_is_the_last_messages_oldest_first(self):
        user = await User.objects.acreate(username="alice")
        said = [f"message {n}" for n in range(HISTORY_LENGTH + 10)]
        for text in said:
            await Message.objects.acreate(room="lobby", user=user, text=text)
        bob = await join("lobby", "bob")
        self.assertEqual(texts(bob.history), said[-HISTORY_LENGTH:])
        self.assertEqual(bob.earlier, 10)
        await bob.disconnect()

    async def test_each_message_is_saved_once_with_its_sender(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "keep me"})
        frame = await alice.receive_json_from()
        saved = await Message.objects.select_related("user").aget(id=frame["id"])
        self.assertEqual(
            (saved.room, saved.user.username, saved.text), ("lobby", "alice", "keep me")
        )
        self.assertEqual(await Message.objects.acount(), 1)
        await alice.disconnect()

    async def test_a_refused_message_is_not_saved(self):
        alice = await join("lobby", "alice")
        await alice.send_json_to({"message": "  "})
        self.assertIn("error", await alice.receive_json_from())
        self.assertEqual(await Message.objects.acount(), 0)
        await alice.disconnect()

    # The race: alice speaks while bob's consumer is reading the history. These
    # tests make it happen every time, by making alice speak from inside bob's
    # history query (mock.patch swaps load_history for a version that does).

    async def bob_joins_while_alice_speaks(self, alice, before_reading):
        """Bob joins the lobby; alice says "during" just before (or just after)
        bob's consumer reads the history. Returns every frame bob gets."""
        real_load_history = consumers.load_history

        async def load_history_while_alice_speaks(room_name):
            if before_reading:
                await self.alice_says(alice, "during")
            history = await real_load_history(room_name)
            if not before_reading:
                await self.alice_says(alice, "during")
            return history

        with mock.patch.object(consumers, "load_history", load_history_while_alice_speaks):
            bob = await join("lobby", "bob")
        frames = list(bob.history)
        while not await bob.receive_nothing():
            frames.append(await bob.receive_json_from())
        await bob.disconnect()
        return frames

    async def alice_says(self, alice, text):
        await alice.send_json_to({"message": text})
        await receive_message(alice)  # saved and sent to the group

    async def test_said_during_the_join_before_the_history_is_read(self):
        alice = await join("lobby", "alice")
        await self.alice_says(alice, "before")
        frames = await self.bob_joins_while_alice_speaks(alice, before_reading=True)
        # Bob's consumer had joined the group, so "during" came live, and the
        # history had it too: twice on the socket, once on the page.
        self.assertEqual(texts(frames), ["before", "during", "during"])
        self.assertEqual(shown_once_each(frames), ["before", "during"])
        await alice.disconnect()

    async def test_said_during_the_join_after_the_history_is_read(self):
        alice = await join("lobby", "alice")
        await self.alice_says(alice, "before")
        frames = await self.bob_joins_while_alice_speaks(alice, before_reading=False)
        # Too late for the history, but bob is in the group: it comes live.
        self.assertEqual(texts(frames), ["before", "during"])
        self.assertEqual(shown_once_each(frames), ["before", "during"])
        await alice.disconnect()
