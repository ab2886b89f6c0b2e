"""A client of the /logs/ page's sockets (ws/logs/NAME/, from step 11), and the log files
they follow.

One socket per job: opening ws/logs/NAME/ starts a Celery job that follows the log file
named NAME, and the job sends that socket alone {"state": "running"}, then {"line": ...}
for each line written from then on, or {"state": "failed", "error": ...}. From step 12,
closing the socket ends the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import uuid

from tests.chat_client import LOGGED_IN, open_socket
from workshop.processes import wait_until

# How long a worker may take to start a job it is given, and a line to reach its page.
START_SECONDS = 10
LINE_SECONDS = 5


def log_path(server, name: str) -> pathlib.Path:
    """The file the step follows under `name` (settings.FOLLOWED_LOGS: logs/NAME.log in the
    served copy), there and possibly empty."""
    path = server.project_dir / "logs" / f"{name}.log"
    path.parent.mkdir(exist_ok=True)
    path.touch()
    return path


def append(path: pathlib.Path, lines: list[str]) -> None:
    """Write lines to a log file, as a program that logs does."""
    with open(path, "a", encoding="utf-8") as log:
        log.write("".join(line + "\n" for line in lines))


def logs_socket(server, name: str, session: str | None = LOGGED_IN):
    """Open the socket the /logs/ page opens to follow `name` (use with `async with`)."""
    return open_socket(server, f"/ws/logs/{name}/", session=session)


async def frame(socket, timeout: float = LINE_SECONDS) -> dict:
    try:
        return json.loads(await asyncio.wait_for(socket.recv(), timeout))
    except TimeoutError:
        raise AssertionError(f"no frame arrived within {timeout} s") from None


async def running(socket) -> None:
    """Wait until a worker runs the socket's job: from then on, lines written reach it."""
    state = await frame(socket, START_SECONDS)
    assert state == {"state": "running"}, state


@contextlib.asynccontextmanager
async def following(server, name: str, session: str | None = LOGGED_IN):
    """A socket that follows `name`, once its job runs (use with `async with`)."""
    async with logs_socket(server, name, session) as socket:
        await running(socket)
        yield socket


async def lines_of(socket, count: int, timeout: float = LINE_SECONDS) -> list[str]:
    received = []
    for _ in range(count):
        got = await frame(socket, timeout)
        assert set(got) == {"line"}, got
        received.append(got["line"])
    return received


def unique(prefix: str, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix} {tag} {n}" for n in range(count)]


def new_job(worker, before: set[str], timeout: float = START_SECONDS) -> str:
    """The id of the one job `worker` started since its running jobs were `before`, as its
    log tells it (the page never learns a job's id)."""
    assert wait_until(lambda: worker.running_jobs() - before, timeout, interval=0.05), (
        f"the Celery worker logged no new job within {timeout} s"
    )
    started = worker.running_jobs() - before
    assert len(started) == 1, f"expected one new job, the worker runs {sorted(started)}"
    return started.pop()
