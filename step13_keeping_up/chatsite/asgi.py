"""ASGI config for chatsite: the entry point Daphne serves.

ProtocolTypeRouter looks at the kind of connection ("http", "websocket", ...)
and hands it to the application registered for that kind. "channel" is the kind
a worker process (manage.py runworker) hands it: a message on a named channel.
"""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Set up Django (settings, app registry) first: code imported after this line
# may use models, and models can only be imported once the apps are loaded.
django_asgi_app = get_asgi_application()

from chat.mentions import MENTIONS_CHANNEL, MentionWorker  # noqa: E402  (needs the apps loaded)
from chat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A WebSocket passes three layers on its way to a consumer:
        # the origin check refuses pages from sites not in ALLOWED_HOSTS,
        # the auth stack puts the logged-in user into scope["user"],
        # and URLRouter picks the consumer by path, like urls.py does for views.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # `python manage.py runworker mentions` reads the channel "mentions" and
        # hands each message to the consumer named here. Without this entry the
        # worker fails: "No application configured for scope type 'channel'".
        "channel": ChannelNameRouter({MENTIONS_CHANNEL: MentionWorker.as_asgi()}),
    }
)
