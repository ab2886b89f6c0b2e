"""A client of step 10's /logs/ socket (ws/logs/), and the log files it follows."""

from __future__ import annotations

import asyncio
import json
import pathlib
import uuid

from tests.chat_client import open_socket

# How long a worker may take to start a job it is given, and a line to reach its page.
START_SECONDS = 10
LINE_SECONDS = 5


def log_path(server, name: str) -> pathlib.Path:
    path = server.project_dir / "logs" / f"{name}.log"
    path.parent.mkdir(exist_ok=True)
    path.touch()
    return path


def append(path: pathlib.Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as log:
        log.write("".join(line + "\n" for line in lines))


def logs_socket(server, session: str | None = "logged in"):
    return open_socket(server, "/ws/logs/", session=session)


async def frame(socket, timeout: float = LINE_SECONDS) -> dict:
    try:
        return json.loads(await asyncio.wait_for(socket.recv(), timeout))
    except TimeoutError:
        raise AssertionError(f"no frame arrived within {timeout} s") from None


async def follow(socket, name: str) -> str:
    """Start following a log; returns the job's id once a worker runs it."""
    await socket.send(json.dumps({"follow": name}))
    queued = await frame(socket)
    assert queued["state"] == "queued" and queued["log"] == name, queued
    running = await frame(socket, START_SECONDS)
    assert running == {"job": queued["job"], "state": "running"}, running
    return queued["job"]


async def lines_of(socket, job: str, count: int, timeout: float = LINE_SECONDS) -> list[str]:
    received = []
    for _ in range(count):
        got = await frame(socket, timeout)
        assert got.get("job") == job and "line" in got, got
        received.append(got["line"])
    return received


def unique(prefix: str, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix} {tag} {n}" for n in range(count)]
