"""User accounts in a step's database, and logging in over HTTP as a browser does.

From step 07 on, the chat is for logged-in users: its pages redirect to the login
page, and its sockets are closed with 4401 without a session cookie. The tests,
`workshop check` and `workshop run` create accounts with `manage.py shell` (Django's
own user model, so any project with django.contrib.auth can take them), and log in
through the step's login page (/accounts/login/), the way a person does.
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import pathlib
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from .step_server import run_manage

LOGIN_PATH = "/accounts/login/"
SESSION_COOKIE = "sessionid"  # Django's SESSION_COOKIE_NAME default


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    password: str
    # Staff (Django's user.is_staff, what `createsuperuser` sets): from step 12 on, only
    # staff may follow the server logs (/logs/).
    staff: bool = False


# The accounts the tests use: long enough for Django's password validators. The tests
# follow logs as STUDENT, the first (a server's default account); ALICE is not staff.
STUDENT = Account("student", "student-password-7", staff=True)
ALICE = Account("alice", "alice-password-7")
BOB = Account("bob", "bob-password-7")
TEST_ACCOUNTS = (STUDENT, ALICE, BOB)

# The account `workshop run` creates in its scratch database and prints: staff, so that
# it can follow the logs too.
DEMO = Account("demo", "demo-password", staff=True)

# Run by `manage.py shell -c`: create each account, or reset its password and staff flag.
_CREATE_ACCOUNTS = """
import json, os
from django.contrib.auth import get_user_model
User = get_user_model()
for username, password, staff in json.loads(os.environ["WORKSHOP_ACCOUNTS"]):
    user, _ = User.objects.get_or_create(**{User.USERNAME_FIELD: username})
    user.set_password(password)
    user.is_staff = staff
    user.save()
"""


class LoginFailed(RuntimeError):
    """The step's login page did not log the account in."""


def create_accounts(
    project_dir: pathlib.Path, env: dict[str, str], accounts: tuple[Account, ...]
) -> None:
    """Create the accounts in the project's (migrated) database."""
    names = json.dumps(
        [[account.username, account.password, account.staff] for account in accounts]
    )
    run_manage(
        project_dir, "shell", "-c", _CREATE_ACCOUNTS, env={**env, "WORKSHOP_ACCOUNTS": names}
    )


def prepare_database(
    project_dir: pathlib.Path,
    env: dict[str, str],
    accounts: tuple[Account, ...] = (),
    python: str = sys.executable,
) -> None:
    """Make a fresh copy of a step servable: `manage.py migrate`, then the accounts (on a
    step with users) in its database. python: the interpreter with the step's packages."""
    run_manage(project_dir, "migrate", "--verbosity", "0", env=env, python=python)
    if accounts:
        create_accounts(project_dir, env, accounts)


def _opener(jar: http.cookiejar.CookieJar) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def log_in(base_url: str, account: Account, timeout: float = 10.0) -> str:
    """Log in through the login form at base_url; return the session cookie's value."""
    jar = http.cookiejar.CookieJar()
    opener = _opener(jar)
    url = base_url + LOGIN_PATH
    try:
        with opener.open(url, timeout=timeout) as response:
            page = response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        raise LoginFailed(
            f"GET {url} answered {error.code}: the login page is missing. Include "
            '`path("accounts/", include("django.contrib.auth.urls"))` in chatsite/urls.py '
            "and write chat/templates/registration/login.html."
        ) from None
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise LoginFailed(f"{url} has no CSRF token: put {{% csrf_token %}} in its <form>.")
    form = urllib.parse.urlencode(
        {
            "username": account.username,
            "password": account.password,
            "csrfmiddlewaretoken": token.group(1),
        }
    ).encode()
    try:
        opener.open(url, data=form, timeout=timeout).close()
    except urllib.error.HTTPError as error:
        # After a login Django redirects; a page missing there is not our business.
        if error.code != 404:
            raise LoginFailed(f"POST {url} as {account.username} answered {error.code}") from None
    for cookie in jar:
        if cookie.name == SESSION_COOKIE:
            return cookie.value
    raise LoginFailed(
        f"{url} did not log {account.username!r} in (no {SESSION_COOKIE} cookie came back): "
        "does the account exist, and does the form post username and password to LoginView?"
    )


def session_for(server, account: Account | None = None) -> str | None:
    """A session cookie for account (default: the server's first) on a StepServer with
    accounts, logged in once and then reused; None for a step without users."""
    if not server.accounts:
        return None
    account = account or server.accounts[0]
    if account.username not in server.sessions:
        server.sessions[account.username] = log_in(server.url, account)
    return server.sessions[account.username]


def cookie_header(session: str | None) -> str | None:
    """The Cookie header a browser sends with a session, or None without one."""
    return f"{SESSION_COOKIE}={session}" if session else None


def fetch(url: str, session: str | None = None, timeout: float = 10.0) -> tuple[int, str, str]:
    """GET url (following redirects) with the session cookie: (status, final URL, body)."""
    request = urllib.request.Request(url)
    if session:
        request.add_header("Cookie", cookie_header(session))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.url, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.url, error.read().decode(errors="replace")
