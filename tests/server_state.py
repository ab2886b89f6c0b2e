"""A served step's state, read and set from outside, as an admin would: a fresh account in
its database, how many sockets a group has in its Redis, its database locked."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid

import redis

from workshop.accounts import Account


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


def members_in_redis(server, group: str) -> int:
    """How many sockets are in the group: the default layer keeps a group in Redis as a
    sorted set of its members' channel names, asgi:group:<group>."""
    with redis.Redis.from_url(server.env["REDIS_URL"], socket_timeout=5) as client:
        return client.zcard(f"asgi:group:{group}")


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
