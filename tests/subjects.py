"""The subject of a test: the parts of a step it exercises, and the steps where they change.

A test that runs on every step with its capability checks something new on a step only
if what it exercises differs from the step before. Most tests exercise the consumer, which
changes on every step; a few exercise one setting only (the dropped-message log line is
the LOGGING setting and the channel layer). Such a test says so:

    @pytest.mark.subject("chatsite/settings.py::LOGGING", "requirements.txt::channels-redis")

and runs on the first step that has its capability and on every later step where one
of those parts changed (tests/conftest.py, pytest_generate_tests). A part is:

- `path`: a whole file of the step;
- `path.py::NAME`: the source of one top-level assignment, function or class of that file;
- `requirements.txt::PACKAGE`: that package's line.

The manifest's `changed` list says which files changed; this module compares the parts
within them, so the list of steps is derived from the folders, never written down.
"""

from __future__ import annotations

import ast
import pathlib
import re

from workshop.manifest import Step, load_steps


def part_source(folder: pathlib.Path, part: str) -> str | None:
    """The text of `part` in a step folder, or None if the step has no such part."""
    path, _, name = part.partition("::")
    file = folder / path
    if not file.is_file():
        return None
    text = file.read_text(encoding="utf-8")
    if not name:
        return text
    if path.endswith(".py"):
        return _python_definition(text, name, file)
    lines = [line for line in text.splitlines() if _requirement_name(line) == _normal(name)]
    return "\n".join(lines) or None


def _python_definition(text: str, name: str, file: pathlib.Path) -> str | None:
    for node in ast.parse(text, filename=str(file)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [target.id for target in targets if isinstance(target, ast.Name)]
        else:
            continue
        if name in names:
            return ast.get_source_segment(text, node)
    return None


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return _normal(match.group(1)) if match else ""


def _normal(package: str) -> str:
    """A package name as pip compares them: channels_redis is channels-redis."""
    return re.sub(r"[-_.]+", "-", package).lower()


def steps_where_changed(steps: list[Step], parts: tuple[str, ...]) -> list[Step]:
    """Of `steps` (in manifest order), the first and each one where a part differs from
    the step before it in the manifest. A part no step has is a mistake in the test."""
    if not steps:
        return []
    every_step = load_steps()
    if not any(part_source(step.path, part) is not None for step in steps for part in parts):
        raise ValueError(f"no step has {parts}: a subject names a file or definition of a step")
    chosen = [steps[0]]
    for step in steps[1:]:
        before = every_step[step.number - 2]
        if any(part_source(step.path, p) != part_source(before.path, p) for p in parts):
            chosen.append(step)
    return chosen


# Subjects many tests share. A room's chat is made of these parts, from the page to the
# layer and the database: a test of the room alone exercises them, and nothing a later
# step adds beside them (a user's notifications, the mentions worker, the log page). On a
# step that only adds beside them, the room's quicker tests (left without a subject) are
# its smoke test, and these run where the room changed.
_PACKAGES = tuple(
    f"requirements.txt::{package}"
    for package in ("django", "channels", "daphne", "channels-redis", "redis")
)
_SERVING = (
    "chat/consumers.py::LayerAwareConsumer",
    "chat/consumers.py::LAYER_UNAVAILABLE",
    "chat/consumers.py::NOT_LOGGED_IN",
    "chat/routing.py",
    "chat/templates/chat/reconnecting_socket.html",
    "chatsite/asgi.py",
    "chatsite/settings.py::INSTALLED_APPS",
    "chatsite/settings.py::MIDDLEWARE",
    "chatsite/settings.py::DATABASES",
    "chatsite/settings.py::REDIS_URL",
    "chatsite/settings.py::CHANNEL_LAYERS",
    *_PACKAGES,
)
ROOM_CHAT = (
    *_SERVING,
    "chat/consumers.py::ChatConsumer",
    "chat/consumers.py::load_history",
    "chat/consumers.py::parse_chat_message",
    "chat/consumers.py::MAX_MESSAGE_LENGTH",
    "chat/consumers.py::HISTORY_LENGTH",
    "chat/mentions.py::find_mentions",
    "chat/mentions.py::MENTION_PATTERN",
    "chat/models.py",
    "chat/rooms.py",
    "chat/urls.py",
    "chat/views.py::room",
    "chat/templates/chat/room.html",
    "chat/templates/chat/logged_in_as.html",
    "chat/templates/chat/notifications.html",
    "chatsite/urls.py",
)
# A user's notification socket, and the commands that push to it and into a room.
NOTIFICATIONS = (
    *_SERVING,
    "chat/consumers.py::NotificationConsumer",
    "chat/consumers.py::ChatConsumer",
    "chat/push.py",
    "chat/management/commands/notify.py",
    "chat/management/commands/announce.py",
    "chat/templates/chat/notifications.html",
    "chat/templates/chat/index.html",
    "chat/templates/chat/room.html",
)
# A mention, from the room's consumer through the worker to the user's notification socket.
MENTIONS = (
    *NOTIFICATIONS,
    "chat/mentions.py",
    "chatsite/settings.py::LOGGING",
)
