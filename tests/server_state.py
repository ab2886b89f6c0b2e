"""A served step's state, read and set from outside, as an admin would: a fresh account in
its database, a group's members as its Redis sees them, a message sent to a group, its
database locked.

Most steps run on Channels' default Redis layer, which keeps a group in Redis as a sorted
set of its members' channels; the keeping-up step runs on the pub/sub layer, which keeps
groups in each server process and subscribes that process to the group's channel in
Redis. The helpers here read whichever the served step uses (its settings.py says).
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid

import redis
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from workshop.accounts import Account
from workshop.bench.servers import project_layer_name

PUBSUB_LAYER = "RedisPubSubChannelLayer"


def new_account(server, staff: bool = False) -> tuple[Account, str]:
    """A fresh account in the served copy (no other test shares its sessions or sockets),
    and the group its notification sockets join (from step 09). staff: may follow the
    server logs (from the step that gives them to staff alone)."""
    account = Account(f"fresh-{uuid.uuid4().hex[:8]}", "fresh-password-7", staff=staff)
    create = (
        "from django.contrib.auth.models import User\n"
        f"print(User.objects.create_user({account.username!r}, password={account.password!r}, "
        f"is_staff={staff!r}).pk)"
    )
    result = server.manage("shell", "-c", create)
    assert result.returncode == 0, result.stderr
    return account, f"user_{result.stdout.split()[-1]}"  # after what the shell imported


def on_pubsub_layer(server) -> bool:
    """Whether the served step runs on the pub/sub layer (else the default Redis layer)."""
    return project_layer_name(server.project_dir) == PUBSUB_LAYER


def members_in_redis(server, group: str) -> int:
    """How many members Redis knows the group has: on the default layer its sockets (a
    sorted set of channel names, asgi:group:<group>); on the pub/sub layer the server
    processes with a member in it (subscribers of the channel asgi__group__<group>)."""
    with redis.Redis.from_url(server.env["REDIS_URL"], socket_timeout=5) as client:
        if on_pubsub_layer(server):
            return dict(client.pubsub_numsub(f"asgi__group__{group}")).get(
                f"asgi__group__{group}".encode(), 0
            )
        return client.zcard(f"asgi:group:{group}")


def subscribers(server, channel: str) -> int:
    """On the pub/sub layer: how many connections listen on a channel (a `runworker` process
    subscribes to its channel a moment after it says it runs; what is sent before, it misses)."""
    with redis.Redis.from_url(server.env["REDIS_URL"], socket_timeout=5) as client:
        return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)


def groups_in_redis(server, redis_url: str, prefix: str) -> list[str]:
    """The groups whose names start with prefix that have a member, as Redis sees them."""
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        if on_pubsub_layer(server):
            names = client.pubsub_channels(f"asgi__group__{prefix}*")
            return [name.decode().removeprefix("asgi__group__") for name in names]
        keys = client.scan_iter(f"asgi:group:{prefix}*")
        return [key.decode().removeprefix("asgi:group:") for key in keys]


async def send_to_group(server, group: str, event: dict) -> None:
    """Send event to a group of the served step from outside, on the step's own layer."""
    hosts = [server.env["REDIS_URL"]]
    if on_pubsub_layer(server):
        layer = RedisPubSubChannelLayer(hosts=hosts)
        try:
            await layer.group_send(group, event)
        finally:
            await layer.flush()  # closes its connection (the pub/sub layer keeps no data)
        return
    layer = RedisChannelLayer(hosts=hosts)
    try:
        await layer.group_send(group, event)
    finally:
        await layer.close_pools()


@contextlib.contextmanager
def database_locked(server):
    """SQLite's write lock on the server's database, held by this process (as a long
    migration or a backup holds it)."""
    database = sqlite3.connect(server.project_dir / "db.sqlite3", timeout=10)
    try:
        database.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        database.rollback()
        database.close()
