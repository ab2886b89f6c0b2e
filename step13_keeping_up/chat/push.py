"""Pushing to sockets from code that is not a consumer: a command, a view, a script."""

import logging

import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management import CommandError


def notification_group(user):
    """The group of a user's notification sockets: one per open page of theirs."""
    return f"user_{user.pk}"


def session_group(session):
    """The group of the sockets a browser session opened: logging out closes them."""
    return f"session_{session.session_key}"


def push_to_group(group, event):
    """Send event to every socket in group, or raise CommandError saying why it cannot."""
    channel_layer = get_channel_layer()
    # The in-memory layer lives inside this one process: the server's sockets
    # are in another, which it cannot reach. group_send would "succeed" and
    # nothing would arrive anywhere.
    if isinstance(channel_layer, InMemoryChannelLayer):
        raise CommandError(
            "The channel layer is Channels' in-memory layer (CHANNEL_LAYERS in settings.py): "
            "it cannot reach another process, so nothing sent from here can reach the "
            "server's sockets. Use the Redis layer, and the same REDIS_URL as the server."
        )
    # The channel layer's methods are async; a command is ordinary, synchronous
    # code. async_to_sync runs the coroutine to its end and returns its result.
    try:
        async_to_sync(channel_layer.group_send)(group, event)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise CommandError(
            f"Could not reach the channel layer (is Redis running?): {error}"
        ) from error


def close_sockets_of_session(sender, request, **kwargs):
    """On user_logged_out (apps.py): the sockets of this session close, "not logged in"."""
    try:
        push_to_group(session_group(request.session), {"type": "session.logged_out"})
    except CommandError as error:  # Redis down, say: logging out must still work
        logging.getLogger(__name__).warning("Sockets not closed at logout: %s", error)
