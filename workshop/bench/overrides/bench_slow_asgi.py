"""The step's ASGI application, with one slow room: the "slow handler" demonstration.

A message sent into the room named by BENCH_SLOW_ROOM (default "slow") takes 100 ms in
receive() before the consumer broadcasts it, as if it called a slow web service first.
BENCH_SLOW_MODE says how it waits:

    sleep   time.sleep(0.1): a blocking call. In a sync consumer (step 03) this is the
            natural way to write it; in an async consumer (step 04) it is the classic mistake.
    await   await asyncio.sleep(0.1): the async way (async consumers only).

The step's own consumer is subclassed, not edited; the routing is rebuilt around the
subclass exactly as the step's asgi.py builds it. Served as bench_slow_asgi:application.
"""

import asyncio
import os
import time

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()  # sets Django up, as the step's asgi.py does

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402
from chat.rooms import ROOM_NAME_PATTERN  # noqa: E402

SLOW_ROOM = os.environ.get("BENCH_SLOW_ROOM", "slow")
SLOW_MODE = os.environ.get("BENCH_SLOW_MODE", "sleep")
DELAY = float(os.environ.get("BENCH_SLOW_SECONDS", "0.1"))

if asyncio.iscoroutinefunction(ChatConsumer.receive):

    class SlowChatConsumer(ChatConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            if self.room_name == SLOW_ROOM:
                if SLOW_MODE == "await":
                    await asyncio.sleep(DELAY)  # waits; the event loop serves everyone else
                else:
                    time.sleep(DELAY)  # blocks the event loop: every socket waits
            await super().receive(text_data)

else:
    if SLOW_MODE != "sleep":
        raise ValueError(f"BENCH_SLOW_MODE={SLOW_MODE!r} needs an async consumer")

    class SlowChatConsumer(ChatConsumer):
        def receive(self, text_data=None, bytes_data=None):
            if self.room_name == SLOW_ROOM:
                # Sync consumers all run in one shared thread: this holds up every room.
                time.sleep(DELAY)
            super().receive(text_data)


ROOM_PATH = rf"^ws/chat/(?P<room_name>{ROOM_NAME_PATTERN})/$"
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([re_path(ROOM_PATH, SlowChatConsumer.as_asgi())]))
        ),
    }
)
