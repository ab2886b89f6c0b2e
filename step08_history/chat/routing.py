"""WebSocket URLs: routing.py is to consumers what urls.py is to views."""

from django.urls import re_path

from . import consumers
from .rooms import ROOM_NAME_PATTERN

websocket_urlpatterns = [
    # as_asgi() makes one consumer instance per connection, like as_view() for views.
    re_path(
        rf"^ws/chat/(?P<room_name>{ROOM_NAME_PATTERN})/$",
        consumers.ChatConsumer.as_asgi(),
    ),
]
