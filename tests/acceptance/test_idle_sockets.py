"""From step 03: sockets idle for a minute stay open and still receive.

The sockets open when the step's first test starts and are checked after its other
tests (tests/idle_sockets.py), so the minute passes while the other tests run.
"""

import pytest

from tests.idle_sockets import IDLE_SECONDS

pytestmark = [pytest.mark.needs("groups"), pytest.mark.slow]


def test_sockets_idle_for_a_minute_stay_open_and_receive(idle_sockets):
    idle_sockets.wait_until_idle_for(IDLE_SECONDS)
    assert idle_sockets.idle_for() >= IDLE_SECONDS
    idle_sockets.talk("still there after a minute?")
