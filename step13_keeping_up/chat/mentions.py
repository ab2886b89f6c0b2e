"""Mentions: "@bob" in a room message notifies bob, wherever he is.

The room's consumer only spots the names; finding the users in the database and
notifying them is the job of a worker, a separate process started with

    python manage.py runworker mentions

The worker reads the channel "mentions" of the channel layer, as Daphne reads
sockets, and hands each message to MentionWorker (asgi.py routes the channel to
it). A room message never waits for that database work, and a worker can run
on another machine.
"""

import re

from asgiref.sync import async_to_sync
from channels.consumer import SyncConsumer
from django.contrib.auth.models import User
from django.core.cache import cache

from .push import notification_group

# The channel the worker reads: the name given to runworker, and in asgi.py.
MENTIONS_CHANNEL = "mentions"

# "@" and a username (letters, digits, "_", and ".", "+" or "-" between them), not
# preceded by a letter or digit: "mail bob@example.org" mentions nobody.
MENTION_PATTERN = re.compile(r"(?<![\w@])@(\w+(?:[.+-]\w+)*)")


# A message notifies at most this many of the names it mentions: a message of
# "@a @b @c ..." cannot send the worker a thousand lookups and notifications.
MAX_MENTIONS = 5


def find_mentions(text):
    """The names mentioned in a message, each once, in order: "@bob @ann @bob" -> bob, ann."""
    return list(dict.fromkeys(MENTION_PATTERN.findall(text)))[:MAX_MENTIONS]


# A SyncConsumer: its handlers are ordinary functions, run in a thread, so they
# use the ORM directly, and async_to_sync for the (async) channel layer.
class MentionWorker(SyncConsumer):
    def mentions_find(self, event):
        # On the pub/sub layer every running worker gets every job. The first to
        # add the job's key to the cache (in Redis, in one step) does it; the
        # others skip it, so that two workers never notify anyone twice.
        if not cache.add(f"mention-job:{event['job_id']}", True, timeout=60):
            return
        # Names that are not users, and the sender's own name, notify nobody.
        mentioned = User.objects.filter(username__in=event["names"]).exclude(pk=event["sender_id"])
        text = f'{event["sender"]} mentioned you in room "{event["room"]}": {event["message"]}'
        for user in mentioned:
            async_to_sync(self.channel_layer.group_send)(
                notification_group(user), {"type": "notification", "text": text}
            )
