"""ASGI config for chatsite: the entry point Daphne serves.

ProtocolTypeRouter looks at the kind of connection ("http", "websocket", ...)
and hands it to the application registered for that kind.
"""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Set up Django (settings, app registry) first: code imported after this line
# may use models, and models can only be imported once the apps are loaded.
django_asgi_app = get_asgi_application()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Only HTTP for now; the "websocket" protocol arrives in step 02.
    }
)
