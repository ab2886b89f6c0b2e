"""What a step with history (step 08 on) has stored, and a copy of it served on PostgreSQL.

The steps keep their messages in SQLite. On PostgreSQL the copy is served with the
settings docs/production.md gives (workshop/overrides/workshop_database_settings.py:
the step's own, plus DATABASES from DATABASE_URL through dj-database-url).
"""

from __future__ import annotations

import collections
import json
import os
import pathlib

from workshop.accounts import TEST_ACCOUNTS, create_accounts
from workshop.postgres_server import PostgresServer
from workshop.production import OVERRIDES_DIR
from workshop.step_server import (
    MACHINE_SENDER_LIMITS,
    StepServer,
    StepServerError,
    copy_project,
    project_env,
    run_manage,
)

# The settings module a copy is served with on PostgreSQL, from OVERRIDES_DIR.
DATABASE_SETTINGS = "workshop_database_settings"

# Run by `manage.py shell -c` in the served copy, with the server's own settings
# (the step's SQLite, or PostgreSQL): every stored message of one room, oldest first.
_DUMP_ROOM = """
import json, os
from chat.models import Message
rows = Message.objects.filter(room=os.environ["WORKSHOP_ROOM"]).order_by("id")
print(json.dumps([[m.id, m.user.username, m.text] for m in rows.select_related("user")]))
"""


def stored_messages(server: StepServer, room: str) -> list[tuple[int, str, str]]:
    """(id, username, text) of every message the server's database holds for room."""
    result = run_manage(
        server.project_dir, "shell", "-c", _DUMP_ROOM, env={**server.env, "WORKSHOP_ROOM": room}
    )
    return [tuple(row) for row in json.loads(result.stdout.strip().splitlines()[-1])]


def assert_stored_once(server: StepServer, room: str, sent_by: dict[int, list[str]]) -> None:
    """Every text in sent_by is stored in room exactly once, and nothing else is."""
    stored = collections.Counter(text for _, _, text in stored_messages(server, room))
    sent = collections.Counter(text for texts in sent_by.values() for text in texts)
    assert stored == sent, f"stored twice: {+(stored - sent)}; not stored: {+(sent - stored)}"


def serve_on_postgres(
    source: pathlib.Path, postgres: PostgresServer, redis_url: str, scratch: pathlib.Path
) -> StepServer:
    """A copy of the step at source, migrated into a new database of postgres, served by
    Daphne with DATABASE_URL pointing there, with the test accounts."""
    database = f"chat_{scratch.name.replace('-', '_').lower()}"
    postgres.create_database(database)
    env = project_env(
        redis_url,
        **MACHINE_SENDER_LIMITS,
        DATABASE_URL=postgres.url_for(database),
        DJANGO_SETTINGS_MODULE=DATABASE_SETTINGS,
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(OVERRIDES_DIR), os.environ.get("PYTHONPATH")])
        ),
    )
    copy = copy_project(source, scratch)
    run_manage(copy, "migrate", "--verbosity", "0", env=env)
    # A copy that ignored DATABASE_URL would pass every test on its SQLite file instead.
    if not postgres.has_table(database, "chat_message"):
        raise StepServerError(
            f"`manage.py migrate` in {copy.name} with DATABASE_URL={postgres.url_for(database)} "
            f"and DJANGO_SETTINGS_MODULE={DATABASE_SETTINGS} (from {OVERRIDES_DIR}) left that "
            "database without the chat_message table: the copy's settings did not read "
            "DATABASE_URL."
        )
    create_accounts(copy, env, TEST_ACCOUNTS)
    return StepServer(copy, env, accounts=TEST_ACCOUNTS).start()
