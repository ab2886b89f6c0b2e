"""Small helpers the notebooks in notebooks/ share.

Only what would distract from the lesson lives here: finding (or starting) a
Redis, and showing step code from the step's own files. Everything the notebooks
teach (configuring Django, talking to the channel layer) stays in their cells.
"""

from __future__ import annotations

import ast
import atexit
import inspect
import os
import pathlib
import textwrap

from .manifest import REPO_ROOT
from .redis_server import (
    INSTALL_HINT,
    RedisServer,
    RedisUnavailable,
    find_redis_server,
    ping,
    server_version,
)

# The environment variable that points a notebook at another project folder, for
# example your own copy of a step: WORKSHOP_STEP_DIR=~/my_step03 jupyter lab notebooks/
STEP_DIR_VARIABLE = "WORKSHOP_STEP_DIR"

_started: list[RedisServer] = []


def _say(message: str) -> None:
    print(f"[notebook] {message}", flush=True)


def notebook_redis_url() -> str:
    """The Redis this notebook uses: REDIS_URL if set, otherwise a redis-server we start.

    A Redis we start runs on a free port and stops when the kernel stops.
    """
    url = os.environ.get("REDIS_URL")
    if url:
        if ping(url):
            _say(f"Using the Redis that REDIS_URL names: {url}")
            _check_version(url)
        else:
            _say(
                f"WARNING: REDIS_URL is {url}, but nothing answers there. Every cell that "
                "uses the channel layer will fail with a ConnectionError. Start that Redis, "
                "or unset REDIS_URL (then this notebook starts its own redis-server), and "
                "restart the kernel."
            )
        return url
    if _started:
        return _started[0].url
    if find_redis_server() is None:
        raise RedisUnavailable(
            "This notebook needs Redis, and found neither REDIS_URL nor a redis-server "
            f"program to start. {INSTALL_HINT} Then restart the kernel (Kernel > Restart "
            "Kernel) and run the notebook again. If a Redis already runs somewhere, start "
            "Jupyter with REDIS_URL set instead, e.g. "
            "REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/jupyter lab notebooks/"
        )
    server = RedisServer().start()
    _started.append(server)
    atexit.register(server.close)
    _say(f"Started a private redis-server at {server.url}; it stops with this kernel.")
    return server.url


def _check_version(url: str) -> None:
    version = server_version(url)
    if version < (5,):
        _say(
            f"WARNING: the Redis at {url} is version {'.'.join(map(str, version))}; "
            "channels_redis needs 5 or newer (older ones answer ERR unknown command "
            f"'BZPOPMIN'). {INSTALL_HINT}"
        )


def notebook_step_dir(default_folder: str) -> pathlib.Path:
    """The project folder a notebook uses: WORKSHOP_STEP_DIR if set, else a workshop step."""
    chosen = os.environ.get(STEP_DIR_VARIABLE)
    path = pathlib.Path(chosen).expanduser().resolve() if chosen else REPO_ROOT / default_folder
    if not (path / "manage.py").is_file() or not (path / "chatsite" / "settings.py").is_file():
        raise FileNotFoundError(
            f"{path} is not a step folder (it needs manage.py and chatsite/settings.py). "
            f"Check {STEP_DIR_VARIABLE}, or unset it to use {default_folder}."
        )
    _say(f"Using the project in {path}")
    return path


def _where(path: pathlib.Path) -> str:
    path = pathlib.Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _code(source: str, header: str):
    from IPython.display import Code

    return Code(f"# {header}\n{source}", language="python")


def show_source(obj):
    """A function's or class's source, read from its file (shown with syntax colours)."""
    return _code(inspect.getsource(obj), f"from {_where(inspect.getsourcefile(obj))}")


def show_assignment(path: pathlib.Path, name: str):
    """The top-level `NAME = ...` statement in a Python file, with the comment above it."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    for node in ast.parse(text).body:
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            start = node.lineno - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            source = "\n".join(lines[start : node.end_lineno])
            return _code(source, f"from {_where(path)}")
    raise LookupError(f"{path} has no top-level assignment to {name}")


def show_definition(path: pathlib.Path, name: str):
    """A class or function in a Python file, or a method as "Class.method", read from the
    file: for step code a notebook cannot import (it runs with another step's settings)."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    definitions = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    body, node = ast.parse(text).body, None
    for part in name.split("."):
        node = next((n for n in body if isinstance(n, definitions) and n.name == part), None)
        if node is None:
            raise LookupError(f"{path} has no definition of {name}")
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    source = textwrap.dedent("\n".join(text.splitlines()[start : node.end_lineno]))
    return _code(source, f"from {_where(path)}")
