"""The production-shaped stack (workshop/production.py), started once for these tests.

nginx in front of two Daphne processes of the last step, one Redis, DEBUG off: what
docs/production.md describes, from the nginx file it shows. The tests of test_stack.py are
about no step in particular, so one worker takes the whole file (tests/conftest.py's
scheduler), starts the stack once and runs them in file order (the rolling restart last).
On a step with users, the stack has the demo account and the tests log in through nginx.
"""

from __future__ import annotations

import pytest

from tests.prerequisites import unavailable
from workshop.manifest import load_steps
from workshop.production import ProductionStack
from workshop.production_nginx import INSTALL_HINT, find_nginx
from workshop.redis_server import with_database

from .members import IdleMember

LAST_STEP = load_steps()[-1]


def require_nginx() -> None:
    if find_nginx() is None:
        unavailable(f"nginx was not found. {INSTALL_HINT}")


@pytest.fixture(scope="session")
def production_stack(redis_url, tmp_path_factory):
    """The last step behind nginx; started once per session."""
    require_nginx()
    # A Redis database of its own (the steps' tests use databases 3 and on: see
    # tests/conftest.py's step_redis_url): on the default layer it is a channel layer of
    # its own, with its own Celery queue, so no other test's worker takes the stack's jobs.
    stack = ProductionStack(
        LAST_STEP,
        redis_url=with_database(redis_url, 1),
        scratch=tmp_path_factory.mktemp("production"),
        machine_senders=True,
    )
    with stack:
        yield stack


@pytest.fixture(scope="session")
def idle_member(production_stack):
    """A socket opened as soon as the stack runs, then left idle while the other tests run:
    tests/production/test_stack.py checks it is still open after nginx's read timeout."""
    member = IdleMember(production_stack, "idle-room")
    member.start()
    member.opened.wait(timeout=30)
    yield member
    member.release()
