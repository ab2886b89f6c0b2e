"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import asyncio
import itertools
import json
import logging
import uuid

import kombu.exceptions
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from .mentions import MENTIONS_CHANNEL, find_mentions, notification_group
from .models import Message
from .tasks import LEASE_SECONDS, follow_log, job_key

logger = logging.getLogger(__name__)

# The longest message a room accepts, in characters: one member cannot fill
# everybody's screen (and memory) with a single message.
MAX_MESSAGE_LENGTH = 1000

# The close code for "the chat cannot reach its channel layer (Redis): try again
# later". The standard code for that, 1013, is one Daphne will not send (it allows
# only 1000 and 3000-4999), so we use the private range: 4000 + HTTP's 503.
LAYER_UNAVAILABLE = 4503

# The close code for "log in first": 4000 + HTTP's 401 Unauthorized. The page
# knows it, says so, and does not reconnect: trying again cannot help.
NOT_LOGGED_IN = 4401

# How often, in seconds, each consumer checks that the channel layer still
# answers. The pub/sub layer (settings.py) only ever waits for messages: when
# Redis goes away, an idle socket would notice nothing, and its page would go on
# saying "Connected" to a room that cannot deliver.
LAYER_CHECK_SECONDS = 2

# How many of a room's last messages a page gets when it joins.
HISTORY_LENGTH = 50

# How long, in seconds, a sender's consumer waits for the mentions worker to say
# it has notified the people a message mentions. Without an answer, the sender
# is told: a message sent to a channel that no worker reads is simply lost.
WORKER_REPLY_SECONDS = 3

# How long, in seconds, a page's job may wait for a Celery worker to start it.
# A job no worker takes (none running, or all busy) is dropped, and the page told.
WORKER_START_SECONDS = 5


class LayerWatchingConsumer(AsyncWebsocketConsumer):
    """A consumer that notices when the channel layer (Redis) goes away (step 6).

    Its socket is then closed with LAYER_UNAVAILABLE, and the page tries again
    later. Both sockets of a page need that: the room's, and from this step on the
    notifications'. So the code lives here once, and both consumers below inherit
    it; each starts check_the_layer() in its connect() and cancels it in disconnect().
    """

    async def __call__(self, scope, receive, send):
        # Everything the consumer does runs inside this call, including the loop
        # that reads its mailbox in Redis. When Redis goes away, that loop (or a
        # group_add, group_send or group_discard) raises a redis ConnectionError.
        # Uncaught, Daphne logs a long traceback and closes the socket with 1011.
        # Instead: one log line, and a close code the page understands.
        try:
            await super().__call__(scope, receive, send)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log_layer_unavailable(scope, error)
            if not hasattr(self, "channel_name"):
                # Redis failed before this socket had a mailbox: the pub/sub layer
                # subscribes to one in new_channel(), which Channels calls before
                # connect(). Accept first, so that the close code reaches the page.
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": LAYER_UNAVAILABLE})

    async def check_the_layer(self):
        # Every few seconds, a round trip through Redis: a message to ourselves.
        while True:
            await asyncio.sleep(LAYER_CHECK_SECONDS)
            try:
                await self.channel_layer.send(self.channel_name, {"type": "layer.checked"})
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log_layer_unavailable(self.scope, error)
                await self.close(code=LAYER_UNAVAILABLE)
                return

    async def layer_checked(self, event):
        # The check's message came back: Redis answers. Nothing to do.
        pass


class ChatConsumer(LayerWatchingConsumer):
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

        # Join the room's group. The channel layer's methods are async,
        # and so is this consumer now: it simply awaits them.
        try:
            await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        finally:
            # Accept even when group_add raised (Redis is down): only an accepted
            # socket can carry the close code of __call__ to the page. A socket
            # refused during the handshake reaches the browser as a bare 1006.
            await self.accept()
        self.layer_check = asyncio.create_task(self.check_the_layer())
        # The mentions the worker has not answered yet: message id -> timer.
        self.unanswered_mentions = {}

        # Now the room's last messages, read AFTER joining the group. A message
        # someone sends while we read is then never lost: it reaches us through
        # the group once connect() is done. It may be in what we read as well,
        # so every message carries its id, and the page skips an id it already
        # shows. (Read first and join second, and such a message is lost.)
        history, earlier = await load_history(self.room_name)
        await self.send(text_data=json.dumps({"history": history, "earlier": earlier}))

    async def disconnect(self, close_code):
        # This runs for a socket that connect() refused, too: it never joined the
        # room nor started the layer check, so there is nothing to undo.
        if not self.scope["user"].is_authenticated:
            return
        self.layer_check.cancel()
        for timer in self.unanswered_mentions.values():
            timer.cancel()
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

        # Save it, with the async ORM: acreate() is create() for async code.
        # The database gives it an id and a time, and whoever joins later reads it.
        # The sender comes from the session (scope["user"]), never from the
        # frame: a client can write any name it likes into its JSON.
        saved = await Message.objects.acreate(
            room=self.room_name, user=self.scope["user"], text=message
        )

        # Send it to everyone in the room. "type" names the handler that each
        # member's consumer runs: "chat.message" calls chat_message() below.
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", **saved.as_frame()}
        )

        # "@bob" in it: the worker notifies bob (see mentions.py). send() puts the
        # job into the worker's channel and returns at once: the room goes on
        # chatting while the worker looks the names up.
        names = find_mentions(message)
        if names:
            self.unanswered_mentions[saved.id] = asyncio.create_task(
                self.wait_for_the_worker(saved.id, names)
            )
            await self.channel_layer.send(
                MENTIONS_CHANNEL,
                {
                    "type": "mentions.find",
                    "names": names,
                    "sender": self.scope["user"].username,
                    "sender_id": self.scope["user"].pk,
                    "room": self.room_name,
                    "message": message,
                    "message_id": saved.id,
                    # Where the worker answers: this consumer's own mailbox.
                    "reply_channel": self.channel_name,
                },
            )

    async def wait_for_the_worker(self, message_id, names):
        # No worker reads the channel (runworker is not running): nobody gets
        # the job, and nothing says so. Tell the sender rather than pretend.
        await asyncio.sleep(WORKER_REPLY_SECONDS)
        del self.unanswered_mentions[message_id]
        mentioned = ", ".join("@" + name for name in names)
        note = (
            f"{mentioned} not notified: mentions are delivered by a worker, and it did not "
            f"answer within {WORKER_REPLY_SECONDS} s. Is `python manage.py runworker "
            f"{MENTIONS_CHANNEL}` running?"
        )
        await self.send(text_data=json.dumps({"note": note}))

    async def mentions_done(self, event):
        # The worker's answer (mentions.py): it has notified everyone mentioned.
        timer = self.unanswered_mentions.pop(event["message_id"], None)
        if timer:
            timer.cancel()

    async def chat_announcement(self, event):
        # An announcement from outside the chat (manage.py announce): every
        # consumer in the room needs this handler. A group message whose "type"
        # has no handler closes every socket that receives it.
        await self.send(text_data=json.dumps({"announcement": event["text"]}))

    async def dispatch(self, message):
        # Channels calls dispatch() for every event, and before each handler it
        # runs Django's close_old_connections() in a worker thread, so that a
        # socket open for hours never holds a database connection past its age.
        # A room message runs chat_message() in every member's consumer: 200
        # members, 200 trips to that one thread, each costing more than the
        # handler itself. chat_message() never touches the database: call it
        # directly. Every other event goes through Channels as before.
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


def log_layer_unavailable(scope, error):
    # "Room lobby: ..." for a room's socket, "Socket /ws/notifications/: ..." for the other.
    room_name = scope["url_route"]["kwargs"].get("room_name")
    logger.warning(
        "%s: channel layer unreachable (%s); socket closed with code %s.",
        f"Room {room_name}" if room_name else f"Socket {scope['path']}",
        error,
        LAYER_UNAVAILABLE,
    )


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


class NotificationConsumer(LayerWatchingConsumer):
    """One socket per open page of a logged-in user, in the group "user_<pk>".

    Whoever knows the group's name and can reach the channel layer can notify
    that user: the mentions worker, a management command, a view.
    """

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            # As in ChatConsumer: accept, then close with a code that says why.
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        self.group_name = notification_group(self.scope["user"])
        # As in ChatConsumer: accept even when Redis is down, so that the close
        # code reaches the page; then watch the layer while the page is open.
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        finally:
            await self.accept()
        self.layer_check = asyncio.create_task(self.check_the_layer())

    async def disconnect(self, close_code):
        if self.scope["user"].is_authenticated:
            self.layer_check.cancel()
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def notification(self, event):
        # {"type": "notification", "text": "..."}: down to the page, which shows
        # it as text (never as HTML: the text may hold anything a user wrote).
        await self.send(text_data=json.dumps({"notification": event["text"]}))


class LogConsumer(LayerWatchingConsumer):
    """ws/logs/: a logged-in page follows one log file at a time, through a Celery job.

    The page sends {"follow": NAME} (a name from settings.FOLLOWED_LOGS) or
    {"stop": true}. The job runs in the Celery worker (chat/tasks.py) and sends
    to this consumer's channel name: this socket's lines reach no other page.
    It watches the layer as the other sockets do (LayerWatchingConsumer).
    """

    async def connect(self):
        self.job_id = None  # this page's job, while it has one
        if not self.scope["user"].is_authenticated:
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        await self.accept()
        self.layer_check = asyncio.create_task(self.check_the_layer())

    async def disconnect(self, close_code):
        if self.scope["user"].is_authenticated:
            self.layer_check.cancel()
        # The page is gone (closed, reloaded, or its connection lost): so is its job.
        await self.stop_job()

    async def receive(self, text_data=None, bytes_data=None):
        try:
            request = json.loads(text_data or "")
        except ValueError:
            request = None
        name = request.get("follow") if isinstance(request, dict) else None
        if isinstance(name, str) and name in settings.FOLLOWED_LOGS:
            await self.start_job(name)
        elif request == {"stop": True}:
            stopped = await self.stop_job()
            if stopped:
                await self.send_state(stopped, "stopped")
        else:
            names = ", ".join(settings.FOLLOWED_LOGS)
            refusal = f'Send {{"follow": NAME}}, NAME one of: {names}; or {{"stop": true}}.'
            await self.send(text_data=json.dumps({"error": refusal}))

    async def start_job(self, log_name):
        await self.stop_job()  # one job per page: a new one replaces the last
        job_id = uuid.uuid4().hex
        try:
            # The flag first: the job stops as soon as it finds it gone.
            await cache.aset(job_key(job_id), True, timeout=LEASE_SECONDS)
            # delay() would do, but apply_async() lets us choose the job's id: the
            # worker's log then shows the same id as the page. Sending to the broker
            # is blocking network code: sync_to_async runs it in a thread.
            await sync_to_async(follow_log.apply_async)(
                (job_id, log_name, self.channel_name), task_id=job_id
            )
        except (redis.RedisError, kombu.exceptions.OperationalError) as error:
            logger.warning("Job not sent: broker or cache (Redis) unreachable (%s).", error)
            await self.close(code=LAYER_UNAVAILABLE)
            return
        self.job_id, self.job_running = job_id, False
        self.watcher = asyncio.create_task(self.watch_job(job_id))
        await self.send(text_data=json.dumps({"job": job_id, "log": log_name, "state": "queued"}))

    async def watch_job(self, job_id):
        # While the job runs: renew its flag every second, and give up on a job
        # that no worker has started after WORKER_START_SECONDS.
        for waited in itertools.count(1):  # seconds
            await asyncio.sleep(1)
            try:
                renewed = await cache.atouch(job_key(job_id), LEASE_SECONDS)
            except redis.RedisError as error:
                logger.warning("Job %s: Redis unreachable (%s); socket closed.", job_id, error)
                await self.close(code=LAYER_UNAVAILABLE)
                return
            if not renewed:
                # The flag is gone, though we did not delete it: Redis restarted and
                # lost it. The job stops when it looks; tell the page.
                await self.end_job(job_id, "lost", "Redis lost the job (was it restarted?).")
                return
            if not self.job_running and waited >= WORKER_START_SECONDS:
                await self.end_job(
                    job_id,
                    "not started",
                    f"No worker started the job within {WORKER_START_SECONDS} s. Is "
                    "`celery -A chatsite worker` running, with free slots (--concurrency)?",
                )
                return

    async def end_job(self, job_id, state, error):
        # The watcher's own way out (stop_job() would cancel the watcher itself).
        self.job_id = None
        await cache.adelete(job_key(job_id))
        await self.send_state(job_id, state, error=error)

    async def stop_job(self):
        """Stop this page's job, if it has one; returns its id."""
        job_id, self.job_id = self.job_id, None
        if job_id is None:
            return None
        self.watcher.cancel()
        try:
            await cache.adelete(job_key(job_id))  # the job sees it gone, and ends
        except redis.RedisError:
            pass  # Redis is down: the flag is gone with it, or runs out by itself
        return job_id

    async def send_state(self, job_id, state, **fields):
        await self.send(text_data=json.dumps({"job": job_id, "state": state, **fields}))

    # The job's messages (chat/tasks.py). A job this page has stopped may still
    # send a line or two before it notices: they are not for this page any more.

    async def job_started(self, event):
        if event["job"] == self.job_id:
            self.job_running = True
            await self.send_state(event["job"], "running")

    async def job_line(self, event):
        if event["job"] == self.job_id:
            await self.send(text_data=json.dumps({"job": event["job"], "line": event["line"]}))

    async def job_failed(self, event):
        if event["job"] == self.job_id:
            await self.stop_job()
            await self.send_state(event["job"], "failed", error=event["error"])
