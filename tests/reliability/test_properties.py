"""A property-based test: Hypothesis sends the consumer arbitrary frames.

The driver (property_driver.py) runs in a copy of the step, in a process of its
own, so that the step's Django settings never mix with this test session's.
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import prepared_copy, unavailable
from tests.subjects import ROOM_CHAT
from workshop.step_server import MACHINE_SENDER_LIMITS, project_env

pytestmark = [pytest.mark.needs("hostile-input"), pytest.mark.subject(*ROOM_CHAT)]

DRIVER = pathlib.Path(__file__).with_name("property_driver.py")
MAX_EXAMPLES = 300  # about 15 s on a busy laptop; derandomized, so the same every run


def test_the_consumer_answers_every_frame_and_broadcasts_only_valid_messages(
    step, tmp_path, prepared_copies
):
    if importlib.util.find_spec("hypothesis") is None:
        unavailable("hypothesis is not installed: pip install -e '.[dev]'")
    # Migrated (the driver saves messages from step 08 on), as the servers' copies are.
    copy = prepared_copy(prepared_copies, step, tmp_path, project_env(), sys.executable)
    result = subprocess.run(
        [sys.executable, str(DRIVER), str(MAX_EXAMPLES)],
        cwd=copy,
        env=project_env(**MACHINE_SENDER_LIMITS),  # one sender, many messages
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"the property failed:\n{output[-6000:]}"
    assert f"OK: {MAX_EXAMPLES} examples" in output, output[-3000:]
