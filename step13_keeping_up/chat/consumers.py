"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import asyncio
import json
import logging
import uuid

import redis
from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected as ClientGone
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from .limits import bucket_for
from .mentions import MENTIONS_CHANNEL, find_mentions
from .models import Message
from .push import notification_group, session_group
from .tasks import MAX_RUN_SECONDS, follow_log, job_key

logger = logging.getLogger(__name__)

# The longest message a room accepts, in characters: one member cannot fill
# everybody's screen (and memory) with a single message.
MAX_MESSAGE_LENGTH = 1000

# The close code for "the chat cannot reach its channel layer (Redis): try again
# later". The standard code for that, 1013, is one Daphne will not send (it allows
# only 1000 and 3000-4999), so we use the private range: 4000 + HTTP's 503.
# From step 8 on, also "cannot read the database" (locked, or down).
LAYER_UNAVAILABLE = 4503

# The close code for "log in first": 4000 + HTTP's 401 Unauthorized. The page
# knows it, says so, and does not reconnect: trying again cannot help.
NOT_LOGGED_IN = 4401

NO_SUCH_LOG = 4404  # the close code for "no log file by that name": 4000 + HTTP's 404
NOT_STAFF = 4403  # "only staff can follow server logs": 4000 + HTTP's 403 Forbidden
TOO_MANY_JOBS = 4429  # "too many jobs: stop one first": 4000 + HTTP's 429 Too Many Requests

# How many of a room's last messages a page gets when it joins.
HISTORY_LENGTH = 50

# How often, in seconds, each socket checks that Redis still answers. The pub/sub
# layer (settings.py) only ever waits for messages: when Redis goes away, an idle
# socket would notice nothing, and its page would go on saying "Connected".
LAYER_CHECK_SECONDS = 2
# Where the check sends: a channel nobody reads. On the pub/sub layer Redis takes the
# message (and drops it) or the send fails; nothing comes back to handle. (On the
# default layer, messages would pile up there: this check is for pub/sub only.)
LAYER_CHECK_CHANNEL = "layer-check"


class LayerAwareConsumer(AsyncWebsocketConsumer):
    """The chat's base consumer: however a socket ends, it cleans up after itself,
    and it closes with LAYER_UNAVAILABLE when Redis is unreachable. Every consumer
    of the chat inherits it, the room's below and those of later steps."""

    async def __call__(self, scope, receive, send):
        # Everything the consumer does runs inside this call: the loop that reads
        # the browser's frames and the consumer's mailbox in Redis, and every
        # handler. Channels runs disconnect() when the browser leaves, but not when
        # a handler raises: the groups connect() joined would keep a dead member,
        # and whatever connect() started would run on. So we run it ourselves.
        self.layer_check = None
        try:
            await super().__call__(scope, receive, send)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            # Redis went away. Uncaught, Daphne logs a long traceback and closes
            # the socket with 1011. Instead: one log line, and a code the page knows.
            logger.warning(
                "Socket %s: channel layer unreachable (%s); socket closed with code %s.",
                scope["path"],
                error,
                LAYER_UNAVAILABLE,
            )
            if not hasattr(self, "base_send"):
                # The pub/sub layer meets Redis first in new_channel(), before
                # connect(): accept, so that the close code reaches the page.
                self.base_send = send
                await self.accept()
                await self.close(code=LAYER_UNAVAILABLE)
                return
            await self.close(code=LAYER_UNAVAILABLE)
            await self.clean_up(LAYER_UNAVAILABLE)
        except ClientGone:  # the browser left while we sent to it: not an error
            await self.clean_up(1001)  # 1001: "going away"
        except Exception:
            # Anything else is a bug: clean up, then let Daphne log the traceback
            # and close the socket with 1011 ("internal error").
            await self.clean_up(1011)
            raise
        finally:
            if self.layer_check is not None:
                self.layer_check.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        # A socket that takes no frames (notifications) answers one: it went nowhere.
        await self.send(text_data=json.dumps({"error": "This socket takes no messages."}))

    async def clean_up(self, close_code):
        try:
            await self.disconnect(close_code)
            for group in self.groups:  # Channels leaves these after disconnect(): so do we
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception as error:  # Redis still down, say: it then forgets this
            # socket's group memberships by itself, after a day (group_expiry).
            logger.warning("Socket %s: clean-up failed (%r).", self.scope["path"], error)

    async def websocket_connect(self, message):
        await super().websocket_connect(message)  # runs connect(), of the consumer below
        self.layer_check = asyncio.create_task(self.check_the_layer())
        if self.scope["user"].is_authenticated and "session" in self.scope:
            self.groups.append(session_group(self.scope["session"]))  # closed at logout
            await self.channel_layer.group_add(self.groups[-1], self.channel_name)

    async def session_logged_out(self, event):
        await self.close(code=NOT_LOGGED_IN)  # the page says "not logged in"

    async def check_the_layer(self):
        # Every few seconds, a round trip to Redis. It runs beside the consumer's
        # handlers, never as one: a slow database cannot hold it up, nor it them.
        while True:
            await asyncio.sleep(LAYER_CHECK_SECONDS)
            try:
                await self.channel_layer.send(LAYER_CHECK_CHANNEL, {"type": "layer.check"})
            except (redis.ConnectionError, redis.TimeoutError) as error:
                logger.warning(
                    "Socket %s: channel layer unreachable (%s); socket closed with code %s.",
                    self.scope["path"],
                    error,
                    LAYER_UNAVAILABLE,
                )
                await self.close(code=LAYER_UNAVAILABLE)  # disconnect() follows
                return


class ChatConsumer(LayerAwareConsumer):
    async def connect(self):
        # The room comes from the URL, as captured by routing.py.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"

        # AuthMiddlewareStack (asgi.py) read the page's session cookie and put the
        # logged-in user into the scope; without a login it is an AnonymousUser.
        # Refuse anonymous sockets, but accept first and then close: only an
        # accepted socket can tell the page why (a refused handshake is a bare 1006).
        if not self.scope["user"].is_authenticated:
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        self.bucket = bucket_for(self.scope["user"])  # how fast they may send

        # Join the room's group. The channel layer's methods are async,
        # and so is this consumer now: it simply awaits them.
        try:
            await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        finally:
            # Accept even when group_add raised (Redis is down): only an accepted
            # socket can carry the close code of __call__ to the page. A socket
            # refused during the handshake reaches the browser as a bare 1006.
            await self.accept()

        # Now the room's last messages, read AFTER joining the group. A message
        # someone sends while we read is then never lost: it reaches us through
        # the group once connect() is done. It may be in what we read as well,
        # so every message carries its id, and the page skips an id it already
        # shows. (Read first and join second, and such a message is lost.)
        try:
            history, earlier = await load_history(self.room_name)
        except DatabaseError as error:  # locked or down: the page tries again
            logger.warning("Room %s: history not read (%s).", self.room_name, error)
            await self.close(code=LAYER_UNAVAILABLE)
            return
        await self.send(text_data=json.dumps({"history": history, "earlier": earlier}))

    async def disconnect(self, close_code):
        # Leave the room's group.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Called for every frame the browser sends: {"message": "..."}.
        # Anything else is answered with an error on this socket alone; nothing
        # is sent to the room, and the socket stays open for the next message.
        try:
            message = parse_chat_message(text_data)
        except ValueError as error:
            await self.send(text_data=json.dumps({"error": str(error)}))
            return
        wait = self.bucket.take()
        if wait:  # faster than CHAT_MESSAGES_PER_SECOND: dropped, and the sender told
            error = f"Too fast: try again in {max(wait, 0.1):.1f} s."
            await self.send(text_data=json.dumps({"error": error}))
            return

        # Save it, with the async ORM: acreate() is create() for async code.
        # The database gives it an id and a time, and whoever joins later reads it.
        # The sender comes from the session (scope["user"]), never from the
        # frame: a client can write any name it likes into its JSON.
        try:
            saved = await Message.objects.acreate(
                room=self.room_name, user=self.scope["user"], text=message
            )
        except DatabaseError as error:  # locked or down: say so, keep the socket
            logger.warning("Room %s: message not saved (%s).", self.room_name, error)
            reply = "Not saved: the database is busy. Send it again."
            await self.send(text_data=json.dumps({"error": reply}))
            return

        # Send it to everyone in the room. "type" names the handler that each
        # member's consumer runs: "chat.message" calls chat_message() below.
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", **saved.as_frame()}
        )

        # "@bob" in it: the worker notifies bob (see mentions.py). send() puts the
        # job into the worker's channel in Redis and returns at once: the room goes
        # on chatting while the worker looks the names up.
        names = find_mentions(message)
        if names:
            await self.channel_layer.send(
                MENTIONS_CHANNEL,
                {
                    "type": "mentions.find",
                    "names": names,
                    "sender": self.scope["user"].username,
                    "sender_id": self.scope["user"].pk,
                    "room": self.room_name,
                    "message": message,
                    "job_id": uuid.uuid4().hex,  # so that a worker does it once
                },
            )

    async def chat_announcement(self, event):
        # An announcement from outside the chat (manage.py announce): every
        # consumer in the room needs this handler. A group message whose "type"
        # has no handler closes every socket that receives it.
        await self.send(text_data=json.dumps({"announcement": event["text"]}))

    async def dispatch(self, message):
        # The hot path. Channels' dispatch() runs before every handler, and first
        # closes stale database connections, in the one thread all database work
        # shares: a room of 200 waits in line there 200 times per message. (The
        # profile shows it: py-spy, in the README.) chat_message() never touches
        # the database, so a room message goes straight to it; every other event
        # goes through Channels as before. chat/tests/test_hot_path.py holds it to that.
        if message["type"] == "chat.message":
            await self.chat_message(message)
        else:
            await super().dispatch(message)

    async def chat_message(self, event):
        # Called once in each member's consumer for every group message.
        message = event["message"]

        # Send it down this member's socket, with the name of who wrote it,
        # and the id and time it was saved with.
        await self.send(
            text_data=json.dumps(
                {
                    "id": event["id"],
                    "user": event["user"],
                    "message": message,
                    "created": event["created"],
                }
            )
        )


# Several queries in one go: ordinary, synchronous ORM code, run in a worker
# thread. Called from async code, the ORM refuses to run (SynchronousOnlyOperation:
# "You cannot call this from an async context"); database_sync_to_async runs the
# whole function in a thread, one trip for all its queries, and closes database
# connections that have gone stale, as Django does after each HTTP request.
@database_sync_to_async
def load_history(room_name):
    """A room's last HISTORY_LENGTH messages as frames, oldest first, and how many came before."""
    messages = Message.objects.filter(room=room_name)
    # Newest first, to take the last ones; select_related fetches each sender
    # in the same query (as_frame() reads message.user.username).
    newest = list(messages.select_related("user").order_by("-created", "-id")[:HISTORY_LENGTH])
    earlier = messages.count() - len(newest)
    return [message.as_frame() for message in reversed(newest)], earlier


def parse_chat_message(text_data):
    """Return the text of a chat frame, or raise ValueError saying what is wrong."""
    if text_data is None:
        raise ValueError("Binary frames are not accepted: send JSON text.")
    try:
        text_data_json = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise ValueError('Not JSON: send {"message": "your text"}.') from None
    if not isinstance(text_data_json, dict) or "message" not in text_data_json:
        raise ValueError('No "message" in it: send {"message": "your text"}.')
    message = text_data_json["message"]
    if not isinstance(message, str):
        raise ValueError('"message" must be text, in double quotes.')
    if not message.strip():
        raise ValueError("The message is empty.")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise ValueError(f"The message is longer than {MAX_MESSAGE_LENGTH} characters.")
    # JSON can spell half of a two-part character ("\ud83d" alone): a "lone
    # surrogate". Python keeps it in a str, but it is not text that can be encoded,
    # so the Redis layer would crash on it. Refuse it like any other bad input.
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("The message contains a broken character (a lone surrogate).") from None
    return message


class NotificationConsumer(LayerAwareConsumer):
    """One socket per open page of a logged-in user, in the group "user_<pk>": a
    command (chat/push.py), a view or another consumer notifies the user through it."""

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            # As in ChatConsumer: accept, then close with a code that says why.
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        self.group_name = notification_group(self.scope["user"])
        # As in ChatConsumer: accept even when Redis is down (see connect() there).
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        finally:
            await self.accept()

    async def disconnect(self, close_code):
        if self.scope["user"].is_authenticated:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def notification(self, event):
        # {"type": "notification", "text": "..."}: down to the page, which shows
        # it as text (never as HTML: the text may hold anything a user wrote).
        await self.send(text_data=json.dumps({"notification": event["text"]}))


class LogConsumer(LayerAwareConsumer):
    """ws/logs/NAME/: while it is open, a Celery job (chat/tasks.py) sends it the new
    lines of log NAME."""

    async def connect(self):
        self.job_id = None
        # Accept first, so that a refusal's close code reaches the page.
        await self.accept()
        log_name = self.scope["url_route"]["kwargs"]["log_name"]
        if not self.scope["user"].is_authenticated:
            await self.close(code=NOT_LOGGED_IN)
        elif not self.scope["user"].is_staff:  # server logs are for staff only
            await self.close(code=NOT_STAFF)
        elif log_name not in settings.FOLLOWED_LOGS:
            await self.close(code=NO_SUCH_LOG)
        elif not await self.take_a_job_slot():
            await self.close(code=TOO_MANY_JOBS)
        else:
            self.job_id = uuid.uuid4().hex
            # The flag first: the job runs while it is there.
            await cache.aset(job_key(self.job_id), True, timeout=MAX_RUN_SECONDS)
            # delay() hands the job to the broker: network code that blocks, so
            # it runs in a thread, not in the server's event loop.
            await sync_to_async(follow_log.delay)(self.job_id, log_name, self.channel_name)

    async def take_a_job_slot(self):
        # Fair use: a user has settings.CHAT_JOBS_PER_USER slots, keys in the cache,
        # and each job holds one. add() sets a key only if it is not there, in one
        # step in Redis: two sockets opened at once never get the same slot. A slot
        # expires with the job's flag, so a server that dies cannot keep it taken.
        for slot in range(settings.CHAT_JOBS_PER_USER):
            key = f"job-slot:{self.scope['user'].pk}:{slot}"
            if await cache.aadd(key, True, timeout=MAX_RUN_SECONDS):
                self.job_slot = key
                return True
        return False

    async def disconnect(self, close_code):
        # Stop pressed, the page closed or its connection lost: the job ends too,
        # and its slot is free again.
        if self.job_id is not None:
            await cache.adelete_many([job_key(self.job_id), self.job_slot])

    async def job_started(self, event):
        await self.send(text_data=json.dumps({"state": "running"}))

    async def job_line(self, event):
        await self.send(text_data=json.dumps({"line": event["line"]}))

    async def job_failed(self, event):
        await self.send(text_data=json.dumps({"state": "failed", "error": event["error"]}))
        await self.close()
