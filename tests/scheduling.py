"""Which tests one pytest-xdist worker runs together, and when the tests that wait run.

A worker serves a step once (tests/conftest.py's ServerPool) and runs all the tests that
need it: a step's tests of one folder (its acceptance tests; its reliability tests, which
the other worker may take meanwhile) form one work unit, and so do the tests of one file
that is about no step in particular (its module fixtures, such as the built deck, are made
once). xdist's own `loadgroup` cannot do this here: it renames test ids, which pytest 9
ignores.

Some tests check what a wait did: sockets left idle for a minute (tests/idle_sockets.py,
the production stack's idle member). Their sockets open with the first test of their
unit; the checks form a late unit of their own, which goes to the same worker (it holds
the sockets) once a minute has passed since that worker took their unit, or when no other
work is left. Meanwhile the worker runs other units, so no worker sleeps through the
minute.
"""

from __future__ import annotations

import re
import time

# Tests that check what a wait did, by the start of their node id. Each runs in the late
# unit of its group (see above); in -n 0 runs, tests/conftest.py puts them last.
AFTER_A_WAIT = (
    "tests/acceptance/test_idle_sockets.py::",
    "tests/production/test_stack.py::test_a_socket_idle_longer_than_nginx_read_timeout",
    # After the idle check: it restarts the servers that hold the idle socket.
    "tests/production/test_stack.py::test_a_rolling_restart",
)
# The fixtures that open what those tests check; tests/conftest.py refuses a test that
# uses one and is not in AFTER_A_WAIT (it would sleep through the wait in its unit).
WAITED_FOR = ("idle_sockets", "idle_member")
# How long after its group began a late unit is due: the sockets' minute of silence.
LATE_AFTER_SECONDS = 60.0
LATE = " (late)"

_STEP_ID = re.compile(r"[\[-](step\d+)(?=[\]-])")


def worker_group(nodeid: str) -> str:
    """'step03-acceptance' for tests/acceptance/...[step03]; the file for other tests."""
    path = nodeid.split("::", 1)[0]
    step = _STEP_ID.search(nodeid.partition("::")[2])
    if step is None:
        return path
    folders = path.split("/")
    part = folders[1] if len(folders) > 2 else folders[-1].removesuffix(".py")
    return f"{step.group(1)}-{part}"


def checks_after_a_wait(nodeid: str) -> bool:
    return nodeid.startswith(AFTER_A_WAIT)


def work_unit(nodeid: str) -> str:
    """The test's worker group, or that group's late unit for a test in AFTER_A_WAIT."""
    group = worker_group(nodeid)
    return group + LATE if checks_after_a_wait(nodeid) else group


def make_scheduler(config, log, clock=time.monotonic):
    """xdist's LoadScopeScheduling over work units, holding late units back (see above)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.taken: dict[str, tuple[object, float]] = {}  # unit: (node, when)

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _due(self, unit: str, node) -> bool:
            """May `node` take `unit` now? Ordinary units: always."""
            if not unit.endswith(LATE):
                return True
            group = unit.removesuffix(LATE)
            if group not in self.taken:
                # Its group is still to come (then not yet), or not in this run at all.
                return group not in self.workqueue
            holder, since = self.taken[group]
            if holder not in self.assigned_work:  # its worker is gone: whoever comes
                return True
            if holder is not node:
                return False
            nothing_else = all(u.endswith(LATE) for u in self.workqueue)
            return nothing_else or clock() - since >= LATE_AFTER_SECONDS

        def _next_unit(self, node) -> str | None:
            due = [unit for unit in self.workqueue if self._due(unit, node)]
            late = [unit for unit in due if unit.endswith(LATE)]
            return (late or due or [None])[0]

        def _assign_work_unit(self, node) -> None:
            unit = self._next_unit(node)
            if unit is None:
                return
            self.workqueue.move_to_end(unit, last=False)
            self.taken[unit] = (node, clock())
            super()._assign_work_unit(node)

        def _reschedule(self, node) -> None:
            if not node.shutting_down and self.workqueue and self._next_unit(node) is None:
                # What is left are other workers' late units: they go to those workers.
                node.shutdown()
                return
            super()._reschedule(node)

    return ByWorkUnit(config, log)
