"""WebSocket URLs: routing.py is to consumers what urls.py is to views."""

from channels.security.websocket import WebsocketDenier
from django.urls import re_path

from . import consumers
from .rooms import ROOM_NAME_PATTERN

websocket_urlpatterns = [
    # as_asgi() makes one consumer instance per connection, like as_view() for views.
    re_path(
        rf"^ws/chat/(?P<room_name>{ROOM_NAME_PATTERN})/$",
        consumers.ChatConsumer.as_asgi(),
    ),
    # Every page of a logged-in user opens this one too: their notifications.
    re_path(r"^ws/notifications/$", consumers.NotificationConsumer.as_asgi()),
    # The /logs/ page: follow a log file, through a job in the Celery worker.
    re_path(r"^ws/logs/(?P<log_name>\w+)/$", consumers.LogConsumer.as_asgi()),
    # Every other path (a room name outside the rule, a typo): refuse the socket
    # the way a page from a foreign site is refused, with HTTP 403. Without this
    # last route, URLRouter raises "No route found" and the client gets HTTP 500.
    re_path(r"", WebsocketDenier.as_asgi()),
]
