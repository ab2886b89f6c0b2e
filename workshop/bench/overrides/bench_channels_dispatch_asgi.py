"""The step's ASGI application with Channels' own dispatch(): the "before" of step 06's shortcut.

From step 06 on, ChatConsumer.dispatch() hands a room message straight to chat_message(),
skipping the database clean-up (close_old_connections() in a worker thread) that Channels
runs before every handler. This module deletes that override from the step's consumer, so
the same step is measured with Channels' dispatch() for every event, room messages included.
Served as bench_channels_dispatch_asgi:application; the step folder is not edited.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
get_asgi_application()  # sets Django up, as the step's asgi.py does

from chat.consumers import ChatConsumer  # noqa: E402

if "dispatch" not in vars(ChatConsumer):
    raise RuntimeError(
        "This step's ChatConsumer has no dispatch() of its own: there is no shortcut to take out."
    )
del ChatConsumer.dispatch  # AsyncConsumer.dispatch() applies again

from chatsite.asgi import application  # noqa: E402, F401  (the step's routing, unchanged)
