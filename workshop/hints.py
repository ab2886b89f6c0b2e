"""The troubleshooting table: each problem, the text that gives it away, why, and the fix.

This is the one source of both places a student meets it: `python -m workshop docs`
renders it as the table in docs/troubleshooting.md (one row per hint, named by its key),
and `workshop check` looks for the hints' patterns in a failed test and the server's
log, and prints the matching rows with the line that matched.

why and fix are Markdown. {0}, {1}... stand for the pattern's groups and {method} for
the handler a message type calls; the table fills them from the hint's example, `check`
from what it found. A literal brace is doubled: {{"error": ...}}. A step is named by its
number in steps.toml (STEP below), so that a renumbering cannot leave a hint behind.

A hint is offered only where its own failure is: one whose text also appears, by design,
in a failure of something else names the capability whose tests it explains (`for_tests_of`);
one that is about a kind of test run, not a text, matches the failing test's title
(`for_test_titled`).
"""

from __future__ import annotations

import dataclasses
import re

from .manifest import load_steps

TROUBLESHOOTING_PAGE = "docs/troubleshooting.md"


def _first_steps() -> dict[str, int]:
    first: dict[str, int] = {}
    for step in load_steps():
        for capability in step.capabilities:
            first.setdefault(capability, step.number)
    return first


# The first step with each capability, by number: STEP["tasks"] is the step of Celery.
STEP = _first_steps()


@dataclasses.dataclass(frozen=True)
class Hint:
    key: str  # the row's name and #anchor in docs/troubleshooting.md
    you_see: str  # Markdown: what a person sees, with the exact text to search for
    why: str
    fix: str
    patterns: tuple[str, ...] = ()  # regular expressions that `check` looks for
    example: str | None = None  # the exact text a student meets; it is in you_see
    generic: bool = False  # `check` offers it only when no specific hint matched
    # `check` offers it only for a failing test of this capability (tests/acceptance marks
    # each test with the capability it checks: @pytest.mark.needs(...)).
    for_tests_of: str | None = None
    # `check` offers it for a failing test whose title (as `check` prints it) matches this
    # regular expression, with no pattern needed in the text; the title is what it saw.
    for_test_titled: str | None = None

    @property
    def row(self) -> str:
        """Where a person reads this hint: its row of the troubleshooting page."""
        return f"{TROUBLESHOOTING_PAGE}#{self.key}"


@dataclasses.dataclass(frozen=True)
class Found:
    """A hint, with the line of the text that matched it and its why and fix filled in."""

    hint: Hint
    seen: str
    why: str
    fix: str


HINTS: tuple[Hint, ...] = (
    Hint(
        "runserver-not-asgi",
        "`Not Found: /ws/chat/lobby/` in the server log; `runserver` printed `Starting "
        "development server at` instead of `Starting ASGI/Daphne version ...`; the page says "
        "`Disconnected (code 1006)`",
        "`runserver` is Django's own WSGI server, which cannot serve WebSockets (every `/ws/` "
        'URL gets 404): `"daphne"` is missing from `INSTALLED_APPS`, or listed after '
        '`"django.contrib.staticfiles"`',
        'put `"daphne"` first in INSTALLED_APPS (`chatsite/settings.py`) and set '
        '`ASGI_APPLICATION = "chatsite.asgi.application"`; `runserver` then prints '
        "`Starting ASGI/Daphne version ...`",
        patterns=(r"Not Found: /ws/", r"Starting development server at"),
        example="Not Found: /ws/chat/lobby/",
    ),
    Hint(
        "tutorial-closed",
        '"Chat socket closed unexpectedly" (the tutorial\'s page)',
        "the tutorial's page prints this for every failure",
        "read the server's terminal, or run `python3 -m workshop check N your/folder`; the "
        "workshop's room page shows the close code and reason",
    ),
    Hint(
        "redis-down",
        "`ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 6379)`, or "
        "`Error 111 connecting to 127.0.0.1:6379. Connection refused.`; "
        f"from step {STEP['reconnect']} the server logs `channel layer unreachable` and the "
        "page says `Disconnected (code 4503)`",
        "nothing answers at the Redis address the channel layer uses (`REDIS_URL`, default "
        "`redis://127.0.0.1:6379/0`)",
        "start Redis (Debian/Ubuntu `sudo systemctl start redis-server`, macOS "
        "`brew services start redis`, Docker `docker run --rm -p 6379:6379 redis:7`) or set "
        "`REDIS_URL`; `python3 -m workshop doctor 3` names the URL it tries",
        patterns=(
            r"Connect call failed \('([^']+)', (\d+)\)",
            r"Error \d+ connecting to ([\w.\-]+):(\d+)",
            r"ConnectionRefusedError",
            r"channel layer unreachable",
        ),
        example="ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 6379)",
    ),
    Hint(
        "redis-too-old",
        "`ERR unknown command 'BZPOPMIN'`",
        "the Redis server is older than 5; channels_redis needs `BZPOPMIN`",
        "install Redis 5 or newer (Docker: `docker run --rm -p 6379:6379 redis:7`)",
        patterns=(r"unknown command .?BZPOPMIN",),
        example="ERR unknown command 'BZPOPMIN'",
    ),
    Hint(
        "redis-py-8-timeout",
        "sockets close after about 5 s idle with code 1011; log: "
        "`redis.exceptions.TimeoutError: Timeout reading from 127.0.0.1:6379`",
        "redis-py 8 gives up on a Redis read after 5 s, sooner than channels_redis's blocking "
        "read waits (channels_redis#422)",
        "install the pins: `pip install -r requirements.txt` (`redis==7.4.1`); or add "
        '`"socket_timeout": None` to the host in `CHANNEL_LAYERS`',
        patterns=(r"Timeout reading from ([\w.\-]+:\d+)",),
        example="redis.exceptions.TimeoutError: Timeout reading from 127.0.0.1:6379",
    ),
    Hint(
        "no-channel-layer",
        "`AttributeError: 'NoneType' object has no attribute 'group_add'` (or `group_send`)",
        "`self.channel_layer` is `None`: there is no `CHANNEL_LAYERS` setting, so the "
        "consumer's call to `{0}` fails",
        f"add the `CHANNEL_LAYERS` block of step {STEP['groups']} "
        "(`channels_redis.core.RedisChannelLayer` at `REDIS_URL`) to `chatsite/settings.py`",
        patterns=(
            r"'NoneType' object has no attribute '(group_add|group_send|group_discard|send)'",
        ),
        example="AttributeError: 'NoneType' object has no attribute 'group_add'",
    ),
    Hint(
        "as-asgi-missing",
        "`TypeError: object ChatConsumer can't be used in 'await' expression` in the server "
        "log; the client gets `HTTP 500` on the handshake",
        "`chat/routing.py` routes to the consumer class `{0}` itself (Channels 2 code): "
        "Channels 3 and 4 need an ASGI application per route, which `as_asgi()` makes",
        "write `consumers.{0}.as_asgi()` in `chat/routing.py`",
        patterns=(
            r"object (\w+) can't be used in 'await' expression",
            r"(\w+)\.__init__\(\) takes \d+ positional arguments? but \d+ were given",
        ),
        example="TypeError: object ChatConsumer can't be used in 'await' expression",
    ),
    Hint(
        "handler-type",
        "`ValueError: No handler for message type chat.typo`; every socket in the room "
        "closes with 1011",
        '`group_send` sends `{{"type": "{0}"}}`, so every member\'s consumer looks for a method '
        "named `{method}()`, which it does not have; Channels closes each socket (code 1011)",
        'make the `"type"` in `group_send` name your handler: `"chat.message"` runs '
        "`chat_message()`",
        patterns=(r"No handler for message type ([\w.]+)",),
        example="ValueError: No handler for message type chat.typo",
    ),
    Hint(
        "no-websocket-app",
        "`ValueError: No application configured for scope type 'websocket'` (or `'channel'`)",
        '`ProtocolTypeRouter` in `chatsite/asgi.py` has no entry for `"{0}"` connections (a '
        'worker needs `"channel"`)',
        'add `"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter('
        "websocket_urlpatterns)))` as in step 2's `asgi.py`; for a worker "
        '`"channel": ChannelNameRouter({{...}})`' + f" (step {STEP['worker']})",
        patterns=(r"No application configured for scope type '(\w+)'",),
        example="ValueError: No application configured for scope type 'websocket'",
    ),
    Hint(
        "runworker",
        "`Unknown command: 'runworker'`",
        '`"channels"` is not in `INSTALLED_APPS`, so `manage.py` has no `runworker` command',
        'add `"channels"` to `INSTALLED_APPS` (`"daphne"` alone does not bring `runworker`), '
        f"as step {STEP['worker']} does",
        patterns=(r"Unknown command: 'runworker'",),
        example="Unknown command: 'runworker'",
    ),
    Hint(
        "in-memory-layer",
        'a worker or shell prints "sent", and nothing arrives; messages vanish between two '
        f"server processes; from step {STEP['notifications']}, `manage.py notify` says "
        "`it cannot reach another process`",
        "the in-memory channel layer lives inside one process",
        f"use the Redis layer (step {STEP['groups']}) in every process",
        patterns=(r"it cannot reach another process",),
        example="it cannot reach another process",
    ),
    Hint(
        "worker-silent",
        "`@bob` in a room never shows on bob's page, though `manage.py notify bob ...` does "
        f"(step {STEP['worker']})",
        "no process reads the channel `mentions`: `python manage.py runworker mentions` is not "
        "running, or runs with another `REDIS_URL` than the server. The job waits in Redis "
        "until a worker reads it, for up to the channel layer's expiry (60 s); after that it "
        "is gone. A worker also runs the code it started with",
        "start `python manage.py runworker mentions` in a second terminal, in the same folder "
        "and with the same `REDIS_URL` as the server (a mention sent in the last minute then "
        "arrives); restart it after changing `chat/mentions.py`",
    ),
    Hint(
        "celery-no-broker",
        "the Celery worker prints `consumer: Cannot connect to amqp://guest:**@127.0.0.1:5672//: "
        f"[Errno 111] Connection refused.` again and again (step {STEP['tasks']})",
        "the worker never read `CELERY_BROKER_URL`, so it tries Celery's default broker, "
        "RabbitMQ: `chatsite/celery.py` lacks "
        '`config_from_object("django.conf:settings", namespace="CELERY")`, or the setting is '
        "misspelled. (`Cannot connect to redis://...` instead: Redis is not running, see "
        "[redis-down](#redis-down))",
        f"keep `config_from_object` in `chatsite/celery.py` as step {STEP['tasks']} has it, and "
        "`CELERY_BROKER_URL = REDIS_URL` in `settings.py`; restart the worker",
        patterns=(r"consumer: Cannot connect to amqp://",),
        example="consumer: Cannot connect to amqp://guest:**@127.0.0.1:5672//: [Errno 111] "
        "Connection refused.",
    ),
    Hint(
        "celery-unregistered",
        "the Celery worker prints `Received unregistered task of type 'chat.tasks.follow_log'` "
        f"(step {STEP['tasks']})",
        "the worker does not know the task `{0}`: it never imported `chat/tasks.py`",
        "keep `app.autodiscover_tasks()` in `chatsite/celery.py`, name the module `tasks.py` "
        "in an app of `INSTALLED_APPS`, and restart the worker after adding a task",
        patterns=(r"Received unregistered task of type '([\w.]+)'",),
        example="Received unregistered task of type 'chat.tasks.follow_log'",
    ),
    Hint(
        "celery-no-worker",
        "the /logs/ page stays at `Waiting for a Celery worker to start the job...` "
        f"(step {STEP['tasks']})",
        "no Celery worker took the job: none runs, it runs with another `REDIS_URL`, or all "
        "its slots are busy (a job holds one until it ends: from step "
        f"{STEP['task-stop']} when its page stops it, in step {STEP['tasks']} after "
        "`MAX_RUN_SECONDS`, 10 minutes). The job waits in Redis until a worker takes it",
        "start `celery -A chatsite worker --pool threads --concurrency 20 --loglevel info` in "
        "another terminal, in the project folder, with the same `REDIS_URL` as the server; "
        "restart it after changing `chat/tasks.py`",
    ),
    Hint(
        "log-not-followed",
        f"the /logs/ page says `(code 4404)` at once (step {STEP['tasks']})",
        "the page opened `ws/logs/NAME/` with a NAME that is not a key of "
        "`settings.FOLLOWED_LOGS`, and the consumer closes such a socket with 4404: it takes "
        "a name from the browser, never a path",
        "add the name and its file to `FOLLOWED_LOGS` in `chatsite/settings.py`, and restart "
        "the server and the Celery worker",
    ),
    Hint(
        "logs-staff-only",
        "`/logs/` answers `Only staff can follow server logs.` (403), or the /logs/ page says "
        f"`Only staff can follow server logs. (code 4403)` (step {STEP['task-limits']})",
        "from this step on, the logs are for staff: the account you are logged in as is not "
        "(`user.is_staff` is false; accounts made with the sign-up page never are)",
        "make a staff account with `python manage.py createsuperuser` in the project folder, "
        "or tick Staff status for yours in `/admin/`, and log in with it; `python3 -m workshop "
        "run`'s demo account is staff",
    ),
    Hint(
        "too-many-jobs",
        "the /logs/ page says `Too many jobs: stop one first (each page that follows a log "
        f"runs one). (code 4429)` (step {STEP['task-limits']})",
        "your account runs `CHAT_JOBS_PER_USER` jobs already (3 unless the environment says): "
        "one for each page of yours that follows a log, in other tabs too. A server killed "
        "while its pages followed logs keeps their slots taken until `MAX_RUN_SECONDS` (ten "
        "minutes) after the jobs started",
        "press Stop on a page of yours that follows a log (or close it), then Follow; for "
        "more at once, start the server with `CHAT_JOBS_PER_USER=10` in its environment",
    ),
    Hint(
        "log-file-missing",
        "the /logs/ page says `Job failed: No such file or directory` (step "
        f"{STEP['tasks']}), and the Celery worker logs `FileNotFoundError: [Errno 2] No such "
        "file or directory: '.../logs/access.log'` (the page is never shown the server's path)",
        "the job opened the file `FOLLOWED_LOGS` names, and it is not there: the step's "
        "`logs/` files were never made (a diff cannot create empty files), or `CHAT_LOG_DIR` "
        "points elsewhere",
        "create them in the project folder: `mkdir -p logs && touch logs/access.log "
        "logs/error.log` (on Windows: a folder `logs` holding two empty files of those "
        "names), or set `CHAT_LOG_DIR` to the folder that holds them",
        patterns=(r"No such file or directory: '[^']*\.log'",),
        example="FileNotFoundError: [Errno 2] No such file or directory: '.../logs/access.log'",
        for_tests_of="tasks",
    ),
    Hint(
        "async-to-sync-in-loop",
        "`You cannot use AsyncToSync in the same thread as an async event loop`",
        "`async_to_sync(...)` is called inside async code (an async consumer, a notebook), or a "
        "Celery task runs in an async test with `CELERY_TASK_ALWAYS_EAGER` (eager mode runs it "
        "inside the test's event loop)",
        "in an `AsyncWebsocketConsumer` write `await self.channel_layer.group_send(...)` "
        "directly, without `async_to_sync`; test tasks with a real worker "
        f"(`celery.contrib.testing.worker.start_worker`, step {STEP['tasks']}), not eager mode",
        patterns=(r"You cannot use AsyncToSync in the same thread as an async event loop",),
        example="You cannot use AsyncToSync in the same thread as an async event loop",
    ),
    Hint(
        "loop-closed",
        "`RuntimeError: Event loop is closed`",
        "`async_to_sync` in a shell reuses Redis connections of an event loop that has ended",
        "in a shell or notebook use `await` directly (see step 3's README and the notebooks)",
        patterns=(r"Event loop is closed",),
        example="RuntimeError: Event loop is closed",
    ),
    Hint(
        "origin-refused",
        "`WebSocket REJECT /ws/chat/lobby/` in the `runserver` log (`daphne` itself logs "
        "`WSREJECT`); the client sees `server rejected WebSocket connection: HTTP 403`",
        "the server refused the socket (403): `AllowedHostsOriginValidator` found the page's "
        "origin not in `ALLOWED_HOSTS` (the log gives no reason)",
        "add the host the page comes from to `DJANGO_ALLOWED_HOSTS` (`127.0.0.1`, "
        "`localhost`); a client that is not a browser must send an `Origin` header",
        patterns=(r"rejected WebSocket connection: HTTP 403",),
        example="server rejected WebSocket connection: HTTP 403",
    ),
    Hint(
        "origin-not-checked",
        "a test fails with `DID NOT RAISE <class 'websockets.exceptions.InvalidStatus'>`: a "
        "socket from a foreign page was let in",
        "a socket from a foreign page (or with no `Origin`) was let in: the origin check is "
        "missing",
        "wrap the websocket router in `AllowedHostsOriginValidator(...)` in `chatsite/asgi.py`",
        patterns=(r"DID NOT RAISE <class 'websockets\.exceptions\.InvalidStatus'>",),
        example="DID NOT RAISE <class 'websockets.exceptions.InvalidStatus'>",
    ),
    Hint(
        "mixed-content",
        "a page over `https://` cannot open `ws://`",
        "the browser blocks mixed content",
        "the room page picks `wss://` on https pages; put Daphne behind a TLS proxy",
    ),
    Hint(
        "own-auth-check",
        "your own auth check: the browser sees only `1006` and reconnects forever",
        "closing before `accept()` is an HTTP 403, which carries no close code; "
        "`disconnect()` still runs",
        "`accept()`, then `close(code=4401)`; set attributes before the auth check; log out by "
        "POST (GET is 405 on Django 5+); group names `user_{{pk}}`, not usernames",
    ),
    Hint(
        "sync-only",
        "`SynchronousOnlyOperation: You cannot call this from an async context`",
        "the ORM (or other sync-only code) is called from an async consumer (also "
        "`message.user.username` without `select_related`)",
        "wrap it in `database_sync_to_async`, or use the async ORM (`aget`, `acreate`, ...); "
        '`select_related("user")`',
        patterns=(r"SynchronousOnlyOperation", r"You cannot call this from an async context"),
        example="SynchronousOnlyOperation: You cannot call this from an async context",
    ),
    Hint(
        "history-on-join",
        "history on join loses or repeats messages",
        "loading history before joining the group loses what arrives in between",
        "`group_add` first, then load the history; drop duplicates by message id",
    ),
    Hint(
        "message-table-missing",
        "`django.db.utils.OperationalError: no such table: chat_message` "
        f"(step {STEP['history']}; on "
        'PostgreSQL `relation "chat_message" does not exist`)',
        "the `Message` model's migration has not run on this database",
        "`python manage.py migrate` (in every deploy, too)",
        patterns=(r"no such table: chat_message", r'relation "chat_message" does not exist'),
        example="django.db.utils.OperationalError: no such table: chat_message",
    ),
    Hint(
        "psycopg-missing",
        "`django.core.exceptions.ImproperlyConfigured: Error loading psycopg2 or psycopg "
        "module` as `migrate`, `runserver` or Daphne starts, after moving a step to PostgreSQL",
        "the settings read `DATABASE_URL` (the lines docs/production.md adds; the steps "
        "themselves never read it), it names PostgreSQL, and PostgreSQL's driver, `psycopg`, "
        "is not installed where the server runs",
        '`python -m pip install dj-database-url "psycopg[binary]"` in that environment (and '
        "pin both in `requirements.txt`), as [Going to production](production.md#8-the-"
        "database-step-8-on) says; or unset `DATABASE_URL` to stay on SQLite",
        patterns=(r"Error loading psycopg2 or psycopg module",),
        example="django.core.exceptions.ImproperlyConfigured: "
        "Error loading psycopg2 or psycopg module",
    ),
    Hint(
        "unsaved-user",
        "`ValueError: save() prohibited to prevent data loss due to unsaved related object "
        f"'user'.` in a consumer test (step {STEP['history']})",
        "the test put a `User(...)` with no database row into the scope, and a saved message "
        "must point to a row",
        "create the user first (`await User.objects.acreate(...)`), as "
        f"step {STEP['history']}'s `join()` in "
        "`chat/tests/test_consumers.py` does",
        patterns=(r"prohibited to prevent data loss due to unsaved related object 'user'",),
        example="ValueError: save() prohibited to prevent data loss due to unsaved related "
        "object 'user'.",
    ),
    Hint(
        "sqlite-locked",
        "`django.db.utils.OperationalError: database is locked`",
        "two processes wrote to the SQLite file at once, and one waited longer than SQLite's "
        "timeout (5 s): SQLite lets one process write at a time",
        "one server process per SQLite file, as the steps run; for several, PostgreSQL, or "
        "SQLite's own `OPTIONS` that make writers wait their turn (docs/production.md, \"The "
        'database")',
        patterns=(r"database is locked",),
        example="django.db.utils.OperationalError: database is locked",
    ),
    Hint(
        "postgresql-run",
        "a test whose title ends in `(postgresql)` fails in `workshop check` "
        f"(step {STEP['history']} on), where the same test on SQLite may pass",
        "that run serves your folder on PostgreSQL: your settings, with `DATABASES` taken from "
        "`DATABASE_URL` by the tooling, where every other test uses your SQLite file. It "
        "usually fails because PostgreSQL is not installed (or its programs are not found), "
        "because your `Message` model or migration differs from step "
        f"{STEP['history']}'s, or because of a query that SQLite forgives and PostgreSQL "
        "refuses (a text longer than its `max_length`, a string where a number belongs)",
        "the server log in the tests' full output names the error; install PostgreSQL "
        "(Debian/Ubuntu `sudo apt-get install postgresql`, macOS `brew install postgresql@15`) "
        "or set `PG_BIN` to the folder of `initdb` and `pg_ctl`; make `chat/models.py` and "
        "`chat/migrations/` "
        f"those of step {STEP['history']} (`python manage.py makemigrations --check --dry-run` "
        "says whether model and migrations agree), then `python manage.py migrate`",
        example="(postgresql)",
        for_test_titled=r"(?i)\bpostgresql\b",
    ),
    Hint(
        "apps-not-loaded",
        "`django.core.exceptions.AppRegistryNotReady: Apps aren't loaded yet.`",
        "`asgi.py` imports the routing (and so consumers and models) before Django is set up",
        "in `chatsite/asgi.py` call `get_asgi_application()` first, then import "
        "`chat.routing`, as step 2's `asgi.py` does",
        patterns=(r"Apps aren't loaded yet",),
        example="django.core.exceptions.AppRegistryNotReady: Apps aren't loaded yet.",
    ),
    Hint(
        "no-route",
        "`ValueError: No route found for path 'ws/chat/two words/'.`",
        "no pattern in `chat/routing.py` matches the socket's path `{0}`: the room name breaks "
        "the rule, or page and socket disagree (the tutorial's `\\w+` route refuses the `-` "
        "and `.` that its `<str:room_name>` page accepts)",
        "the route must be `^ws/chat/(?P<room_name>...)/$` with the room-name rule of "
        "`chat/rooms.py` (1-94 of `A-Z a-z 0-9 - _ .`, starting with a letter or digit), so "
        "that page and socket accept the same names",
        patterns=(r"No route found for path '([^']*)'",),
        example="ValueError: No route found for path 'ws/chat/two words/'.",
    ),
    Hint(
        "group-name",
        "`TypeError: Group name must be a valid unicode string with length < 100 containing "
        "only ASCII alphanumerics, hyphens, underscores, or periods.`",
        "a room name (or username) with spaces, accents or 100+ characters went into a group name",
        "build group names from checked room names (`chat/rooms.py`), or from ids: `user_{{pk}}`",
        patterns=(r"Group name must be a valid unicode string",),
        example="TypeError: Group name must be a valid unicode string with length < 100",
    ),
    Hint(
        "slow-message",
        "one slow message holds up every room",
        "synchronous consumers share one thread (channels#2132)",
        "the async consumer of step 4; never `time.sleep` in a consumer",
    ),
    Hint(
        "closed-database",
        "`django.db.utils.ProgrammingError: Cannot operate on a closed database.` in async "
        "consumer tests",
        "after `communicator.disconnect()` Channels closed the test database connection "
        "(channels#2118)",
        "put consumer tests in `SimpleTestCase` or `TransactionTestCase`, as step 5 does",
        patterns=(r"Cannot operate on a closed database",),
        example="django.db.utils.ProgrammingError: Cannot operate on a closed database.",
    ),
    Hint(
        "test-database",
        "your `db.sqlite3` disappeared after `manage.py test`; `ChannelsLiveServerTestCase` "
        "cannot see the test data",
        "the tutorial's `TEST: NAME` points at the dev database; an in-memory SQLite cannot be "
        "shared with the live server",
        "step 5 uses `test_db.sqlite3`; Channels 4.3.x has the Django 5.2 and macOS/Windows fixes",
    ),
    Hint(
        "no-browser",
        "`NoSuchDriverException: Message: Unable to obtain driver for chrome`; Selenium tries "
        "to download a driver",
        "Selenium cannot find Chromium or ChromeDriver",
        "install them (Debian/Ubuntu `sudo apt-get install chromium chromium-driver`; "
        "elsewhere a ChromeDriver of your browser's major version) or set `CHROME_BINARY` and "
        "`CHROMEDRIVER_PATH`; `python3 -m workshop doctor --tests` checks both",
        patterns=(r"Unable to obtain driver", r"(Chromium|ChromeDriver) was not found"),
        example="NoSuchDriverException: Message: Unable to obtain driver for chrome",
    ),
    Hint(
        "selenium-3-helpers",
        "`AttributeError: 'WebDriver' object has no attribute 'find_element_by_id'`",
        "Selenium 4 removed the old `find_element_by_*` helpers",
        '`driver.find_element(By.ID, "...")`',
        patterns=(r"object has no attribute 'find_elements?_by_\w+'",),
        example="AttributeError: 'WebDriver' object has no attribute 'find_element_by_id'",
    ),
    Hint(
        "bad-input",
        "`json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)` or "
        "`KeyError: 'message'` closes a socket",
        '`receive()` trusts every frame: a frame that is not JSON, or has no `"message"`, '
        "raises and closes the socket",
        'check the frame in `receive()` and answer bad ones with `{{"error": "..."}}`, as '
        "step 5's consumer does",
        patterns=(r"JSONDecodeError", r"Expecting value: line 1", r"KeyError: 'message'"),
        example="json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
        # Only where the input checks are tested: a check of the student's own suite runs
        # it against a consumer without them on purpose, whose output has these errors.
        for_tests_of="input-checks",
    ),
    Hint(
        "channel-layer-not-installed",
        "`channels.exceptions.InvalidChannelLayerError: Cannot import BACKEND "
        "'channels_redis.core.RedisChannelLayer'` and HTTP 500 on the handshake",
        "the channel layer `{0}` is not installed in the Python that runs the server (a "
        "folder carried on from step 2 without installing again)",
        "`python3 -m pip install -r requirements.txt` in your folder, with your virtualenv "
        "active; `python3 -m workshop doctor 3 --project path/to/your/folder` checks that "
        "virtualenv",
        patterns=(r"Cannot import BACKEND '([\w.]+)'",),
        example="InvalidChannelLayerError: Cannot import BACKEND "
        "'channels_redis.core.RedisChannelLayer'",
    ),
    Hint(
        "no-tests-ran",
        "`Ran 0 tests in 0.000s` then `OK`; from step 5 on `No tests found, so nothing was "
        "checked`",
        "Django found no tests: `chat/tests/` has no `__init__.py` (an empty file, which a "
        "diff cannot create), or the test modules are not named `test_*.py`",
        "create `chat/tests/__init__.py` (step 5's holds a one-line docstring); from step 5 "
        "on, the project's test runner fails instead of reporting OK",
        patterns=(r"Ran 0 tests", r"No tests found, so nothing was checked"),
        example="Ran 0 tests in 0.000s",
    ),
    Hint(
        "missing-package",
        "`ModuleNotFoundError: No module named 'channels_redis'`",
        "Python cannot import `{0}`: a package is not installed, or a module name is misspelt",
        "`python -m pip install -r requirements.txt` in your folder (and check the spelling "
        "of your own imports)",
        patterns=(r"No module named '([\w.]+)'",),
        example="ModuleNotFoundError: No module named 'channels_redis'",
    ),
    Hint(
        "port-in-use",
        "`Error: That port is already in use.`",
        "another server runs on that port (8000)",
        "stop it, or `python3 -m workshop run 3 --port 8001` (`manage.py runserver 8001`)",
        patterns=(r"That port is already in use",),
        example="Error: That port is already in use.",
    ),
    Hint(
        "channel-full",
        "`channels.exceptions.ChannelFull`, or messages silently missing under load",
        "each server process has one mailbox in Redis for all of its sockets, holding at most "
        "`capacity` messages (100 unless set) for 60 s: past that, `send` raises and "
        "`group_send` drops the message for that process's members, logging `over capacity` "
        "(at `INFO`)",
        '`"capacity": 1500` in `CHANNEL_LAYERS["default"]["CONFIG"]`, as step '
        f"{STEP['burst']} sets it (a class pressing Enter at once); "
        "`python3 -m workshop doctor N` compares yours with the step's",
        patterns=(r"ChannelFull", r"channels over capacity in group"),
        example="channels.exceptions.ChannelFull",
    ),
    Hint(
        "redis-restart",
        "sockets close after Redis restarts",
        "the connections to the old Redis are gone",
        f"reload the page (step {STEP['reconnect']}'s page reconnects by itself); "
        "channels_redis connects again on the next call",
    ),
    Hint(
        "order-across-senders",
        "two tabs show messages from different senders in different orders",
        "the channel layer keeps order per sender, not across senders",
        "number or time-stamp messages if order matters",
    ),
    Hint(
        "disconnect-on-shutdown",
        "on Ctrl-C or a deploy, `disconnect()` does not run for the open sockets",
        "Daphne stops without closing consumers one by one (channels#1119)",
        "do not rely on `disconnect()` for clean-up that must happen: let such state expire; "
        "clients reconnect",
    ),
    Hint(
        "message-too-big",
        "messages over 1 MiB close the socket",
        "Daphne 4.2 caps WebSocket messages at 1 MiB",
        "keep messages small, or `daphne --websocket-max-message-size N`",
    ),
    Hint(
        "proxy-upgrade",
        "in production: WebSockets fail behind nginx (400 or 404 on `/ws/`)",
        "the proxy does not pass the `Upgrade` and `Connection` headers",
        "`proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header "
        'Connection "upgrade";`; one Daphne process per core, or `uvicorn[standard]`',
    ),
    Hint(
        "syntax-error",
        "`NameError: name 'async_to_sync' is not defined`, or a `SyntaxError` or "
        "`IndentationError`, in the server's output",
        "your code does not load",
        "fix the line the server's output names (file and line number); "
        "`python manage.py check` shows it too",
        patterns=(r"((?:Syntax|Indentation|Name)Error: .*)",),
        example="NameError: name 'async_to_sync' is not defined",
    ),
    # From the step with users on.
    Hint(
        "scope-without-user",
        f"`KeyError: 'user'` in a consumer (step {STEP['login']})",
        "no `AuthMiddlewareStack` around the routes in `asgi.py`, or a consumer test that "
        "builds the scope without a user",
        "keep step 2's `AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))`; in a "
        'test, set `communicator.scope["user"]`',
        patterns=(r"KeyError: 'user'",),
        example="KeyError: 'user'",
    ),
    Hint(
        "disconnect-after-refusal",
        "`AttributeError: 'ChatConsumer' object has no attribute 'room_group_name'` (or "
        f"`'job_id'`) after a refused socket (step {STEP['login']})",
        "`disconnect()` also runs for a socket that `connect()` refused (an anonymous user); "
        "that socket never got `{0}`, because `connect()` returned before setting it",
        "set it before `connect()` can refuse, as step "
        f"{STEP['task-stop']}'s `LogConsumer` sets `self.job_id = None`, or return at the top "
        'of `disconnect()` when `not self.scope["user"].is_authenticated`, as step '
        f"{STEP['login']}'s `ChatConsumer` does",
        patterns=(r"'\w+' object has no attribute '(room_group_name|job_id)'",),
        example="AttributeError: 'ChatConsumer' object has no attribute 'room_group_name'",
    ),
    Hint(
        "login-template",
        "`django.template.exceptions.TemplateDoesNotExist: registration/login.html` in the "
        "server log, `TemplateDoesNotExist at /accounts/login/` on the page "
        f"(step {STEP['login']})",
        "`django.contrib.auth.urls` brings the login view, but not the page it renders",
        f"write `chat/templates/registration/login.html`, as step {STEP['login']} does",
        patterns=(r"TemplateDoesNotExist: registration/login\.html",),
        example="django.template.exceptions.TemplateDoesNotExist: registration/login.html",
    ),
    Hint(
        "login-redirect",
        f"`Not Found: /accounts/profile/` right after logging in (step {STEP['login']})",
        "no `LOGIN_REDIRECT_URL` in the settings, so Django's default applies",
        '`LOGIN_REDIRECT_URL = "index"` in `chatsite/settings.py`',
        patterns=(r"Not Found: /accounts/profile/",),
        example="Not Found: /accounts/profile/",
    ),
    Hint(
        "logout-by-get",
        "`Method Not Allowed (GET): /accounts/logout/` in the server log, a blank page "
        f"(step {STEP['login']})",
        "a link to the logout URL: Django 5 logs out by POST only",
        'a form with `method="post"` and `{{% csrf_token %}}`, as '
        f"step {STEP['login']}'s `chat/logged_in_as.html`",
        patterns=(r"Method Not Allowed \(GET\): /accounts/logout/",),
        example="Method Not Allowed (GET): /accounts/logout/",
    ),
    Hint(
        "logout-without-csrf",
        f"`Forbidden (CSRF token missing.): /accounts/logout/` (step {STEP['login']})",
        "the logout form has no CSRF token",
        "put `{{% csrf_token %}}` inside the `<form>`",
        patterns=(r"Forbidden \(CSRF token missing\.\): /accounts/logout/",),
        example="Forbidden (CSRF token missing.): /accounts/logout/",
    ),
    Hint(
        "not-logged-in",
        f"`Disconnected (code 4401): you are not logged in` on a room page (step {STEP['login']})",
        "the socket's handshake carried no valid session: logged out in another tab, the "
        "session expired, or the page was opened on another host name than the one you logged "
        "in on (`localhost` and `127.0.0.1` have separate cookies)",
        "reload the page and log in",
    ),
    # Generic: `check` offers these only when nothing above matched.
    Hint(
        "server-did-not-start",
        "`workshop check`: `Daphne did not start serving`",
        "your project does not start: its output ends with the error",
        "run `python manage.py check` in your folder; it shows the same error",
        patterns=(r"Daphne did not start serving", r"manage\.py migrate.* failed"),
        example="Daphne did not start serving",
        generic=True,
    ),
    Hint(
        "server-error",
        "`server rejected WebSocket connection: HTTP 500`; `Exception inside application:` in "
        "the server log",
        "an exception in your consumer or routing closed the socket",
        "read the traceback in the server log: its last lines name your file and line",
        patterns=(
            r"rejected WebSocket connection: HTTP 500",
            r"Exception inside application: (.*)",
        ),
        example="server rejected WebSocket connection: HTTP 500",
        generic=True,
    ),
    Hint(
        "no-answer",
        "`workshop check`: `no frame arrived within`, `never reached the chat log`",
        "the socket opened but no message came back",
        "`receive()` must `group_send` (or `send`) the message, and the handler must send it "
        'down the socket as `{{"message": ...}}`; the server log may show why not',
        patterns=(
            r"no frame arrived within",
            r"never reached the chat log",
            r"never said Connected",
        ),
        example="no frame arrived within",
        generic=True,
    ),
)


def _fill(template: str, match: re.Match | None) -> str:
    groups = [group or "" for group in match.groups()] if match else []
    method = groups[0].replace(".", "_") if groups else ""  # "chat.typo" calls chat_typo()
    return template.format(*groups, method=method)


def _example_match(hint: Hint) -> re.Match | None:
    if hint.example is None:
        return None
    return next(filter(None, (re.search(p, hint.example) for p in hint.patterns)), None)


def as_documented(hint: Hint) -> tuple[str, str]:
    """why and fix as the troubleshooting page shows them: filled from the hint's example."""
    match = _example_match(hint)
    return _fill(hint.why, match), _fill(hint.fix, match)


_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def plain(markdown: str) -> str:
    """Markdown of a table cell as a terminal shows it: no backticks, link text only."""
    return _MARKDOWN_LINK.sub(r"\1", markdown).replace("`", "")


# A log line's "2026-11-22 01:16:49,294 ERROR    " prefix, which says nothing to a student.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ +[A-Z]+ +")


def _line_of(text: str, match: re.Match) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return _LOG_PREFIX.sub("", text[start : end if end != -1 else len(text)].strip())


def find_hints(text: str, test: str = "", capability: str | None = None) -> list[Found]:
    """The hints for a failure (specific ones first; generic only as fallback): those whose
    patterns occur in its text, and those for a test of its title.

    test is the failing test's title as `check` shows it; capability the one that test
    checks, None when unknown (then a hint for another capability's tests is offered too).
    """
    found: list[Found] = []
    for hint in HINTS:
        if hint.generic and found:
            break
        if hint.for_tests_of and capability is not None and capability != hint.for_tests_of:
            continue
        if hint.for_test_titled:
            if re.search(hint.for_test_titled, test):
                found.append(
                    Found(hint, test, plain(_fill(hint.why, None)), plain(_fill(hint.fix, None)))
                )
            continue
        for pattern in hint.patterns:
            match = re.search(pattern, text)
            if match:
                why, fix = _fill(hint.why, match), _fill(hint.fix, match)
                found.append(Found(hint, _line_of(text, match), plain(why), plain(fix)))
                break
    return found


def by_key(key: str) -> Hint:
    return next(hint for hint in HINTS if hint.key == key)
