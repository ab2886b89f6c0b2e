"""The step's ASGI application with a dispatch() shortcut: measured variants of steps 06 and 12.

Channels' AsyncConsumer.dispatch() runs Django's close_old_connections() in the one
database thread before every handler. A room message runs chat_message() once in every
member's consumer, and chat_message() never touches the database: the shortcut hands a
room message straight to it and every other event to Channels as before. Step 06 shipped
it until the lesson steps moved to Channels' defaults; step 13 teaches it with the profile
that finds it. Served as bench_dispatch_asgi:application.

BENCH_LAYER_CHECK_SECONDS (empty for none) adds what step 06 needed on the pub/sub layer
(BENCH_LAYER=pubsub): each consumer sends itself a message through Redis every so many
seconds, because that layer only waits for messages and would never tell an idle socket
that Redis is gone. It is measured because it costs: 200 sockets, 100 messages a second.
(Step 13 publishes its check to a channel nobody reads instead: a check that comes back as
an event waits in the consumer behind a slow handler, and holds up the room messages after
it. Under load the two cost about the same.)

BENCH_SERIALISE_ONCE=1 (step 12's room messages, which carry id, user, message and time)
adds to the shortcut a room message serialised once: the sender's consumer puts the frame,
already JSON, into the group message, and each member's chat_message() sends that text
instead of calling json.dumps() once per member.

The step's consumer is subclassed, not edited, and put in place of the step's own before
the step's routing is imported, so the step's asgi.py and routing.py serve it unchanged.
"""

import asyncio
import json
import os
import sys

import redis
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
get_asgi_application()  # sets Django up, as the step's asgi.py does

from chat import consumers  # noqa: E402

LAYER_CHECK_SECONDS = float(os.environ.get("BENCH_LAYER_CHECK_SECONDS") or 0)
SERIALISE_ONCE = os.environ.get("BENCH_SERIALISE_ONCE") == "1"

if "chat.routing" in sys.modules:  # its routes would hold the step's own consumer
    raise RuntimeError("chat.routing was imported before the benchmark could replace ChatConsumer")


class ShortcutChatConsumer(consumers.ChatConsumer):
    async def dispatch(self, message):
        # A room message goes straight to its handler, without Channels' trip to the
        # database thread; every other event goes through Channels as before.
        if message["type"] == "chat.message":
            await self.chat_message(message)
        else:
            await super().dispatch(message)

    async def connect(self):
        await super().connect()
        if LAYER_CHECK_SECONDS:
            self.layer_check = asyncio.create_task(self.check_the_layer())

    async def disconnect(self, close_code):
        if getattr(self, "layer_check", None):
            self.layer_check.cancel()
        await super().disconnect(close_code)

    async def check_the_layer(self):
        # A round trip through Redis, a message to ourselves: on the pub/sub layer the only
        # way an idle socket learns that Redis is gone.
        while True:
            await asyncio.sleep(LAYER_CHECK_SECONDS)
            try:
                await self.channel_layer.send(self.channel_name, {"type": "layer.checked"})
            except (redis.ConnectionError, redis.TimeoutError):
                await self.close(code=consumers.LAYER_UNAVAILABLE)
                return

    async def layer_checked(self, event):
        pass  # the check came back: Redis answers


class SerialisingLayer:
    """The consumer's channel layer, but a room message goes into the group as the frame
    its members send, serialised once here: {"type": "chat.message", "text": "<JSON>"}."""

    FRAME_KEYS = ("id", "user", "message", "created")  # step 12's frame, in its order

    def __init__(self, layer):
        self.layer = layer

    def __getattr__(self, name):
        return getattr(self.layer, name)  # everything else: the layer itself

    async def group_send(self, group, message):
        if message["type"] == "chat.message":
            frame = {key: message[key] for key in self.FRAME_KEYS}
            message = {"type": "chat.message", "text": json.dumps(frame)}
        await self.layer.group_send(group, message)


class SerialiseOnceChatConsumer(ShortcutChatConsumer):
    async def websocket_connect(self, message):
        # The first handler, after Channels has set self.channel_layer: receive() then
        # sends the room message through SerialisingLayer.
        self.channel_layer = SerialisingLayer(self.channel_layer)
        await super().websocket_connect(message)

    async def chat_message(self, event):
        await self.send(text_data=event["text"])  # already JSON: no json.dumps per member


MeasuredConsumer = SerialiseOnceChatConsumer if SERIALISE_ONCE else ShortcutChatConsumer
consumers.ChatConsumer = MeasuredConsumer

from chat.routing import websocket_urlpatterns  # noqa: E402  (the step's routes, unchanged)
from chatsite.asgi import application  # noqa: E402, F401  (the step's application, unchanged)

# A routing.py that imported the class itself (from .consumers import ChatConsumer) would
# still serve the step's own consumer, and be measured under this variant's name.
if not any(
    getattr(route.callback, "consumer_class", None) is MeasuredConsumer
    for route in websocket_urlpatterns
):
    raise RuntimeError(
        "chat/routing.py does not route to consumers.ChatConsumer: the dispatch() shortcut "
        "could not be put in front of the step's consumer"
    )
