"""From an error text to its likely cause and fix: the PITFALLS table, for `workshop check`.

Each hint names the exact text that gives a problem away (in the test's failure or
in the server's log), what it means, and the fix. `find_hints(text)` returns the
hints whose patterns occur, most specific first; the generic ones (a socket that
never answers, a server that does not start) only when nothing specific matched.
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Hint:
    key: str
    pitfall: str  # where PITFALLS / the README's troubleshooting table has it
    patterns: tuple[str, ...]  # regular expressions; groups fill {0}, {1} in cause and fix
    cause: str
    fix: str
    example: str | None = None  # the exact text a student meets (README's table has it too)
    generic: bool = False  # only offered when no specific hint matched


@dataclasses.dataclass(frozen=True)
class Found:
    """A hint, with the line of the text that matched it, its cause and fix filled in."""

    hint: Hint
    seen: str
    cause: str
    fix: str


def _method(message_type: str) -> str:
    return message_type.replace(".", "_")


HINTS: tuple[Hint, ...] = (
    Hint(
        "runserver-not-asgi",
        "PITFALLS 1",
        (r"Not Found: /ws/", r"Starting development server at"),
        "`python manage.py runserver` is Django's own WSGI server, which cannot serve "
        'WebSockets (every /ws/ URL gets 404): "daphne" is missing from INSTALLED_APPS, or '
        'listed after "django.contrib.staticfiles"',
        'put "daphne" first in INSTALLED_APPS (chatsite/settings.py) and set '
        'ASGI_APPLICATION = "chatsite.asgi.application"; runserver then prints '
        '"Starting ASGI/Daphne version ..."',
        example="Not Found: /ws/chat/lobby/",
    ),
    Hint(
        "as-asgi-missing",
        "PITFALLS 4",
        (
            r"object (\w+) can't be used in 'await' expression",
            r"(\w+)\.__init__\(\) takes \d+ positional arguments? but \d+ were given",
        ),
        "chat/routing.py routes to the consumer class {0} itself (Channels 2 code): "
        "Channels 3 and 4 need an ASGI application per route, which as_asgi() makes",
        "write consumers.{0}.as_asgi() in chat/routing.py",
        example="TypeError: object ChatConsumer can't be used in 'await' expression",
    ),
    Hint(
        "no-channel-layer",
        "PITFALLS 5",
        (r"'NoneType' object has no attribute '(group_add|group_send|group_discard|send)'",),
        "self.channel_layer is None: there is no CHANNEL_LAYERS setting, so the consumer's "
        "call to {0} fails",
        "add the CHANNEL_LAYERS block of step 3 (channels_redis.core.RedisChannelLayer at "
        "REDIS_URL) to chatsite/settings.py",
        example="AttributeError: 'NoneType' object has no attribute 'group_add'",
    ),
    Hint(
        "handler-type",
        "PITFALLS 0e",
        (r"No handler for message type ([\w.]+)",),
        'group_send sends {{"type": "{0}"}}, so every member\'s consumer looks for a method '
        "named {method}(), which it does not have; Channels closes each socket (code 1011)",
        'make the "type" in group_send name your handler: "chat.message" runs chat_message()',
        example="ValueError: No handler for message type chat.typo",
    ),
    Hint(
        "redis-down",
        "PITFALLS 2",
        (
            r"Connect call failed \('([^']+)', (\d+)\)",
            r"Error \d+ connecting to ([\w.\-]+):(\d+)",
            r"ConnectionRefusedError",
        ),
        "nothing answers at the Redis address the channel layer uses (REDIS_URL)",
        "start Redis (Debian/Ubuntu `sudo systemctl start redis-server`, macOS "
        "`brew services start redis`, Docker `docker run --rm -p 6379:6379 redis:7`) or set "
        "REDIS_URL; `python -m workshop doctor` shows the URL it tries",
        example="ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 6379)",
    ),
    Hint(
        "redis-too-old",
        "PITFALLS 3",
        (r"unknown command .?BZPOPMIN",),
        "the Redis server is older than 5; channels_redis needs BZPOPMIN",
        "install Redis 5 or newer (Docker: `docker run --rm -p 6379:6379 redis:7`)",
        example="ERR unknown command 'BZPOPMIN'",
    ),
    Hint(
        "redis-py-8-timeout",
        "PITFALLS 0",
        (r"Timeout reading from ([\w.\-]+:\d+)",),
        "redis-py 8 gives up on a Redis read after 5 s, shorter than channels_redis's "
        "blocking read: idle sockets close with code 1011 (channels_redis#422)",
        "install the pins: `pip install -r requirements.txt` (redis==7.4.1); or add "
        '"socket_timeout": None to the host in CHANNEL_LAYERS',
        example="redis.exceptions.TimeoutError: Timeout reading from 127.0.0.1:6379",
    ),
    Hint(
        "apps-not-loaded",
        "PITFALLS 9",
        (r"Apps aren't loaded yet",),
        "asgi.py imports the routing (and so consumers and models) before Django is set up",
        "in chatsite/asgi.py call get_asgi_application() first, then import chat.routing, "
        "as step 2's asgi.py does",
        example="django.core.exceptions.AppRegistryNotReady: Apps aren't loaded yet.",
    ),
    Hint(
        "no-websocket-app",
        "PITFALLS 0e",
        (r"No application configured for scope type '(\w+)'",),
        'ProtocolTypeRouter in chatsite/asgi.py has no entry for "{0}" connections',
        'add "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter('
        "websocket_urlpatterns))) as in step 2's asgi.py",
        example="ValueError: No application configured for scope type 'websocket'",
    ),
    Hint(
        "no-route",
        "PITFALLS 10",
        (r"No route found for path '([^']*)'",),
        "no pattern in chat/routing.py matches the socket's path '{0}'",
        "the route must be ^ws/chat/(?P<room_name>...)/$ with the room-name rule of "
        "chat/rooms.py, so that page and socket accept the same names",
        example="ValueError: No route found for path 'ws/chat/two words/'.",
    ),
    Hint(
        "group-name",
        "PITFALLS 10",
        (r"Group name must be a valid unicode string",),
        "a group name was refused: only ASCII letters, digits, - _ . and fewer than 100 "
        "characters are allowed (a room name with a space or an accent, or a username)",
        "build group names from checked room names (chat/rooms.py), or from ids: user_{{pk}}",
        example="TypeError: Group name must be a valid unicode string with length < 100",
    ),
    Hint(
        "origin-not-checked",
        "PITFALLS 6",
        (r"DID NOT RAISE <class 'websockets\.exceptions\.InvalidStatus'>",),
        "a socket from a foreign page (or with no Origin) was let in: the origin check is missing",
        "wrap the websocket router in AllowedHostsOriginValidator(...) in chatsite/asgi.py",
    ),
    Hint(
        "origin-refused",
        "PITFALLS 6",
        (r"rejected WebSocket connection: HTTP 403",),
        "the server refused the socket (403): AllowedHostsOriginValidator found the page's "
        "origin not in ALLOWED_HOSTS (the log shows WSREJECT, without a reason)",
        'ALLOWED_HOSTS must include the host the page comes from ("127.0.0.1", "localhost")',
        example="server rejected WebSocket connection: HTTP 403",
    ),
    Hint(
        "sync-only",
        "PITFALLS 11",
        (r"SynchronousOnlyOperation", r"You cannot call this from an async context"),
        "the ORM (or other sync-only code) is called from an async consumer",
        "wrap it in database_sync_to_async, or use the async ORM (aget, acreate, ...)",
        example="SynchronousOnlyOperation: You cannot call this from an async context",
    ),
    Hint(
        "async-to-sync-in-loop",
        "PITFALLS 0e",
        (r"You cannot use AsyncToSync in the same thread as an async event loop",),
        "async_to_sync(...) is called inside async code (an async consumer, a notebook)",
        "in an AsyncWebsocketConsumer write `await self.channel_layer.group_send(...)` "
        "directly, without async_to_sync",
        example="You cannot use AsyncToSync in the same thread as an async event loop",
    ),
    Hint(
        "loop-closed",
        "PITFALLS 13",
        (r"Event loop is closed",),
        "async_to_sync in a shell reuses Redis connections of an event loop that has ended",
        "in a shell or notebook use `await` directly (see step 3's README and the notebooks)",
        example="RuntimeError: Event loop is closed",
    ),
    Hint(
        "closed-database",
        "PITFALLS 0b",
        (r"Cannot operate on a closed database",),
        "after communicator.disconnect() Channels closed the test database connection "
        "(channels#2118)",
        "put consumer tests in SimpleTestCase or TransactionTestCase, as step 5 does",
        example="django.db.utils.ProgrammingError: Cannot operate on a closed database.",
    ),
    Hint(
        "runworker",
        "PITFALLS 0e",
        (r"Unknown command: 'runworker'",),
        '"channels" is not in INSTALLED_APPS, so manage.py has no runworker command',
        'add "channels" to INSTALLED_APPS (daphne alone does not bring runworker)',
        example="Unknown command: 'runworker'",
    ),
    Hint(
        "channel-full",
        "PITFALLS (capacity)",
        (r"ChannelFull",),
        "a consumer's queue in the channel layer is full (100 messages by default)",
        "read faster than you send, or raise capacity in CHANNEL_LAYERS' CONFIG",
        example="channels.exceptions.ChannelFull",
    ),
    Hint(
        "bad-input",
        "step 5: input checks",
        (r"JSONDecodeError", r"Expecting value: line 1", r"KeyError: 'message'"),
        'receive() trusts every frame: a frame that is not JSON, or has no "message", '
        "raises and closes the socket",
        'check the frame in receive() and answer bad ones with {{"error": "..."}} as '
        "step 5's consumer does",
        example="json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    ),
    Hint(
        "missing-package",
        "set-up",
        (r"No module named '([\w.]+)'",),
        "Python cannot import {0}: a package is not installed, or a module name is misspelt",
        "`python -m pip install -r requirements.txt` in your folder (and check the spelling "
        "of your own imports)",
        example="ModuleNotFoundError: No module named 'channels_redis'",
    ),
    Hint(
        "syntax-error",
        "your code",
        (r"((?:Syntax|Indentation|Name)Error: .*)",),
        "your code does not load: {0}",
        "fix the line the server log names (file and line number)",
    ),
    Hint(
        "no-browser",
        "PITFALLS 8",
        (r"Unable to obtain driver", r"(Chromium|ChromeDriver) was not found"),
        "Selenium cannot find Chromium or ChromeDriver",
        "install them (Debian/Ubuntu `sudo apt-get install chromium chromium-driver`) or set "
        "CHROMIUM_PATH and CHROMEDRIVER_PATH; `python -m workshop doctor --tests` checks",
        example="NoSuchDriverException: Message: Unable to obtain driver for chrome",
    ),
    Hint(
        "disconnect-after-refusal",
        "step 7",
        (r"'\w+' object has no attribute '(layer_check|room_group_name)'",),
        "disconnect() also runs for a socket that connect() refused (an anonymous user); "
        "that socket never got {0}, because connect() returned before setting it",
        'return at the top of disconnect() when not self.scope["user"].is_authenticated, '
        "as step 7's consumer does",
        example="AttributeError: 'ChatConsumer' object has no attribute 'layer_check'",
    ),
    Hint(
        "login-template",
        "step 7",
        (r"TemplateDoesNotExist: registration/login\.html",),
        "django.contrib.auth.urls brings the login view, but not the page it renders",
        "write chat/templates/registration/login.html, as step 7 does",
        example="django.template.exceptions.TemplateDoesNotExist: registration/login.html",
    ),
    # Generic: only when nothing above matched.
    Hint(
        "server-did-not-start",
        "your code",
        (r"Daphne did not start serving", r"manage\.py migrate.* failed"),
        "your project does not start: its output above ends with the error",
        "run `python manage.py check` in your folder; it shows the same error",
        generic=True,
    ),
    Hint(
        "server-error",
        "your code",
        (r"rejected WebSocket connection: HTTP 500", r"Exception inside application: (.*)"),
        "an exception in your consumer or routing closed the socket",
        "read the traceback in the server log above: its last lines name your file and line",
        generic=True,
    ),
    Hint(
        "no-answer",
        "your code",
        (r"no frame arrived within", r"never reached the chat log", r"never said Connected"),
        "the socket opened but no message came back",
        "receive() must group_send (or send) the message, and the handler must send it down "
        'the socket as {{"message": ...}}; the server log above may show why not',
        generic=True,
    ),
)


def _fill(template: str, match: re.Match) -> str:
    groups = [group or "" for group in match.groups()]
    method = _method(groups[0]) if groups else ""
    return template.format(*groups, method=method)


# A log line's "2026-11-22 01:16:49,294 ERROR    " prefix, which says nothing to a student.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ +[A-Z]+ +")


def _line_of(text: str, match: re.Match) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return _LOG_PREFIX.sub("", text[start : end if end != -1 else len(text)].strip())


def find_hints(text: str) -> list[Found]:
    """The hints whose patterns occur in text (specific ones first; generic only as fallback)."""
    found: list[Found] = []
    for hint in HINTS:
        if hint.generic and found:
            break
        for pattern in hint.patterns:
            match = re.search(pattern, text)
            if match:
                found.append(
                    Found(
                        hint,
                        _line_of(text, match),
                        _fill(hint.cause, match),
                        _fill(hint.fix, match),
                    )
                )
                break
    return found


def by_key(key: str) -> Hint:
    return next(hint for hint in HINTS if hint.key == key)
