"""What a test does when something it needs is missing: under CI fail, locally skip.

Under CI=true nothing that matters may be skipped: a missing browser or Redis fails the
run with what to install. On a laptop the test skips, and the skip names the fix.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(message: str):
    """Fail under CI, else skip; message says what is missing and how to get it."""
    if IN_CI:
        pytest.fail(f"CI=true and this test cannot run: {message}", pytrace=False)
    pytest.skip(message)
