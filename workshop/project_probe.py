"""Look inside a Django project folder (a script, run in a subprocess, the folder on sys.path).

    python workshop/project_probe.py PROJECT_DIR   ->   one JSON object on stdout

It imports the project's settings the way Django does (so values computed from
the environment, lists built in code, and so on all come out right), then loads
the ASGI application and lists its WebSocket routes. Standard library and the
project's own imports only: it must not import the workshop package, whose
folder it takes off sys.path so that nothing there shadows the project's modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import pathlib
import re
import sys
import traceback

SETTINGS_PATTERN = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


def settings_module(project: pathlib.Path) -> str:
    """The settings module manage.py names (chatsite.settings if it names none)."""
    try:
        match = SETTINGS_PATTERN.search((project / "manage.py").read_text(errors="replace"))
    except OSError:
        match = None
    return match.group(1) if match else "chatsite.settings"


def error_text(error: BaseException) -> str:
    """The exception as Python prints its last line, plus the innermost file and line."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        where = frames[-1]
        text += f"  (at {where.filename}, line {where.lineno})"
    return text


def websocket_routes(application) -> list[dict] | None:
    """The routes of the URLRouter behind the "websocket" entry, or None if not found."""
    from channels.routing import URLRouter

    mapping = getattr(application, "application_mapping", None)
    if mapping is None:
        return None
    current, seen = mapping.get("websocket"), 0
    if current is None:
        return []
    while current is not None and not isinstance(current, URLRouter) and seen < 20:
        current = getattr(current, "inner", None) or getattr(current, "application", None)
        seen += 1
    if not isinstance(current, URLRouter):
        return None
    routes = []
    for route in current.routes:
        callback = getattr(route, "callback", None)
        routes.append(
            {
                "pattern": str(getattr(route, "pattern", route)),
                "callback": getattr(callback, "__qualname__", repr(callback)),
                "is_class": inspect.isclass(callback),
            }
        )
    return routes


def login_page() -> dict:
    """Where the login page is, and whether its template loads (steps with users)."""
    from django.template.loader import get_template
    from django.urls import reverse

    found: dict = {}
    try:
        found["url"] = reverse("login")
        get_template("registration/login.html")
    except BaseException as error:  # noqa: BLE001
        found["error"] = error_text(error)
    return found


def celery_app(package: str) -> dict | None:
    """The project's Celery app (PACKAGE/celery.py, where `celery -A PACKAGE` looks): its
    broker and tasks, or the error that stops it loading; None if the project has none."""
    name = f"{package}.celery"
    loaded_by_django = name in sys.modules  # PACKAGE/__init__.py imports it (the step with tasks)
    try:
        if importlib.util.find_spec(name) is None:
            return None
        app = importlib.import_module(name).app
        app.loader.import_default_modules()  # what the worker does: autodiscover_tasks()
    except BaseException as error:  # noqa: BLE001
        return {"error": error_text(error)}
    tasks = sorted(task for task in app.tasks if not task.startswith("celery."))
    return {
        "loaded_by_django": loaded_by_django,
        "broker": str(app.conf.broker_url),
        "tasks": tasks,
        # What each task takes: the server's .delay(...) must give it the same.
        "parameters": {name: _parameters(app.tasks[name].run) for name in tasks},
    }


def _parameters(function) -> list[str] | None:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return None


def channel_layer(layers) -> dict | None:
    """The default channel layer: its BACKEND, the capacity its CONFIG sets (None: not
    set), and that backend's own default capacity (None: not known, or not importable)."""
    config = layers.get("default") if isinstance(layers, dict) else None
    if not isinstance(config, dict):
        return None
    backend = str(config.get("BACKEND"))
    options = config.get("CONFIG") or {}
    capacity = options.get("capacity") if isinstance(options, dict) else None
    default = None
    try:
        module, _, name = backend.rpartition(".")
        parameter = inspect.signature(getattr(importlib.import_module(module), name)).parameters
        default = parameter["capacity"].default if "capacity" in parameter else None
    except BaseException:  # noqa: BLE001  (a backend that does not import: doctor says so)
        pass
    if not isinstance(capacity, (int, type(None))):
        capacity = repr(capacity)  # doctor shows it; JSON could not carry every value
    return {"backend": backend, "capacity": capacity, "default_capacity": default}


def probe(project: pathlib.Path) -> dict:
    module_name = settings_module(project)
    os.environ["DJANGO_SETTINGS_MODULE"] = module_name
    result: dict = {"settings_module": module_name}
    try:
        settings = importlib.import_module(module_name)
    except BaseException as error:  # noqa: BLE001  (any failure is the student's to see)
        result["settings_error"] = error_text(error)
        return result
    result["installed_apps"] = [str(app) for app in getattr(settings, "INSTALLED_APPS", [])]
    result["asgi_application"] = getattr(settings, "ASGI_APPLICATION", None)
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if isinstance(layers, dict):
        result["channel_layers"] = {
            str(alias): str((config or {}).get("BACKEND")) for alias, config in layers.items()
        }
    else:
        result["channel_layers"] = None
    result["channel_layer"] = channel_layer(layers)
    if not result["asgi_application"]:
        return result
    try:
        import django
        from django.utils.module_loading import import_string

        django.setup()
        # Before the ASGI app: importing it imports the consumers, and with them the tasks
        # they send, which would hide tasks that the worker alone would not find.
        result["celery"] = celery_app(module_name.rpartition(".")[0] or module_name)
        application = import_string(result["asgi_application"])
        result["websocket_routes"] = websocket_routes(application)
        # The kinds of connection ProtocolTypeRouter serves ("http", "websocket", "channel").
        mapping = getattr(application, "application_mapping", None)
        result["scope_types"] = sorted(mapping) if mapping is not None else None
    except BaseException as error:  # noqa: BLE001
        result["asgi_error"] = error_text(error)
        return result
    result["login_page"] = login_page()
    return result


def main() -> None:
    project = pathlib.Path(sys.argv[1]).resolve()
    sys.path[0] = str(project)  # instead of this script's folder
    os.chdir(project)
    result = probe(project)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
