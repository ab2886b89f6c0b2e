""" "Try it" without a browser: the README's `python -m websockets` and asyncio-prompt lines
do and print what the README says, against the step started as the README starts it.

The commands and the expected output are read from the README (only the port changes),
so the README cannot drift from what the pinned websockets and the step really do.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import StepUnderTest
from workshop.manifest import load_steps

README_PORT = "127.0.0.1:8000"
CLI = re.compile(r"^ *python -m websockets (ws://\S+)$", re.MULTILINE)

STEPS = [
    StepUnderTest(step, step.path)
    for step in load_steps()
    if CLI.search((step.path / "README.md").read_text(encoding="utf-8"))
]


def readme(step: StepUnderTest) -> str:
    return (step.step.path / "README.md").read_text(encoding="utf-8")


def prompt_session(text: str) -> tuple[list[str], list[str]]:
    """(lines typed, lines printed) of the README's pycon block that uses websockets."""
    blocks = re.findall(r"^ *```pycon\n(.*?)^ *```$", text, flags=re.MULTILINE | re.DOTALL)
    (session,) = [block for block in blocks if "websockets" in block]
    lines = [line.strip() for line in session.splitlines() if line.strip()]
    typed = [line.removeprefix(">>> ") for line in lines if line.startswith(">>> ")]
    printed = [line for line in lines if not line.startswith(">>> ")]
    return typed, printed


def test_the_readme_shows_it_for_the_first_step_with_websockets():
    first = next(step for step in load_steps() if step.has("websocket"))
    assert [s.step for s in STEPS][:1] == [first], "the first socket step's Try it names it"


@pytest.mark.parametrize("step", STEPS, ids=[s.step.label for s in STEPS])
def test_the_command_line_client_is_refused_for_want_of_an_origin(step, runserver):
    text = readme(step)
    address = f"127.0.0.1:{runserver.port}"
    uri = CLI.search(text).group(1).replace(README_PORT, address)
    result = subprocess.run(
        [sys.executable, "-m", "websockets", uri],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = re.search(r"`(Failed to connect to .*?)`", text, flags=re.DOTALL).group(1)
    expected = " ".join(said.split()).replace(README_PORT, address)  # the README wraps it
    assert result.stdout.strip() == expected, result.stdout + result.stderr
    logged = re.search(r"the server logs `(WebSocket REJECT [^`]+)`", text).group(1)
    assert logged in runserver.log_text(), runserver.log_text()[-2000:]


@pytest.mark.parametrize("step", STEPS, ids=[s.step.label for s in STEPS])
def test_the_asyncio_prompt_session_prints_what_the_readme_shows(step, runserver):
    typed, printed = prompt_session(readme(step))
    port = str(runserver.port)
    script = "\n".join(line.replace("8000", port) for line in typed) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "asyncio"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The REPL echoes its prompts (">>> ") before each result on stdout.
    shown = [line.lstrip("> ").strip() for line in result.stdout.splitlines()]
    shown = [line for line in shown if line]
    assert shown == printed, result.stdout + result.stderr
