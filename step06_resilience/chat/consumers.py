"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import asyncio
import json
import logging

import redis
from channels.generic.websocket import AsyncWebsocketConsumer

logger = logging.getLogger(__name__)

# The longest message a room accepts, in characters: one member cannot fill
# everybody's screen (and memory) with a single message.
MAX_MESSAGE_LENGTH = 1000

# The close code for "the chat cannot reach its channel layer (Redis): try again
# later". The standard code for that, 1013, is one Daphne will not send (it allows
# only 1000 and 3000-4999), so we use the private range: 4000 + HTTP's 503.
LAYER_UNAVAILABLE = 4503

# How often, in seconds, each consumer checks that the channel layer still
# answers. The pub/sub layer (settings.py) only ever waits for messages: when
# Redis goes away, an idle socket would notice nothing, and its page would go on
# saying "Connected" to a room that cannot deliver.
LAYER_CHECK_SECONDS = 2


class ChatConsumer(AsyncWebsocketConsumer):
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

    async def connect(self):
        # The room comes from the URL, as captured by routing.py.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"

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

    async def disconnect(self, close_code):
        self.layer_check.cancel()
        # Leave the room's group.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

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

    async def receive(self, text_data=None, bytes_data=None):
        # Called for every frame the browser sends: {"message": "..."}.
        # Anything else is answered with an error on this socket alone; nothing
        # is sent to the room, and the socket stays open for the next message.
        try:
            message = parse_chat_message(text_data)
        except ValueError as error:
            await self.send(text_data=json.dumps({"error": str(error)}))
            return

        # Send it to everyone in the room. "type" names the handler that each
        # member's consumer runs: "chat.message" calls chat_message() below.
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

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

        # Send it down this member's socket.
        await self.send(text_data=json.dumps({"message": message}))


def log_layer_unavailable(scope, error):
    logger.warning(
        "Room %s: channel layer unreachable (%s); socket closed with code %s.",
        scope["url_route"]["kwargs"]["room_name"],
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
