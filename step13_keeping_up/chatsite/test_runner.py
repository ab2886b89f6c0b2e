"""The project's test runner: Django's own, except that finding no tests is an error."""

from django.core.management.base import CommandError
from django.test.runner import DiscoverRunner


class ChatTestRunner(DiscoverRunner):
    def build_suite(self, *args, **kwargs):
        suite = super().build_suite(*args, **kwargs)
        # Without this, a test folder that Django cannot see (no chat/tests/__init__.py)
        # ends in "Ran 0 tests" and "OK": a green that checked nothing.
        if suite.countTestCases() == 0:
            raise CommandError(
                "No tests found, so nothing was checked. Test modules are named test_*.py, "
                "and chat/tests/ needs an __init__.py to be found."
            )
        return suite
