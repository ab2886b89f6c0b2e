"""Whether DATABASE_URL names a PostgreSQL database: the tooling serves the chat on no other.

Used by workshop_database_settings.py (in the step's processes, before Django starts) and
by workshop/production.py (before the production stack starts anything), so that a wrong
URL is refused once, with one message, wherever it is met.
"""

from __future__ import annotations

import dj_database_url

POSTGRESQL_ENGINE = "django.db.backends.postgresql"
EXAMPLE = "postgres://USER:PASSWORD@HOST:5432/NAME"


def postgres_url_problem(url: str) -> str | None:
    """What is wrong with url as the chat's PostgreSQL database, or None when nothing is.

    The message names the URL's scheme only: the rest may hold a password.
    """
    try:
        engine = dj_database_url.parse(url)["ENGINE"]
    except ValueError:  # dj-database-url's UnknownSchemeError and ParseError
        engine = None
    if engine == POSTGRESQL_ENGINE:
        return None
    scheme, separator, _ = url.partition("://")
    given = f"a {scheme}:// URL" if separator else "not a URL"
    return (
        f"DATABASE_URL is {given}, and the workshop's tooling serves steps 08 on with "
        'PostgreSQL only (the settings lines of docs/production.md, "The database"). '
        f"Set it to {EXAMPLE}, or unset it (`unset DATABASE_URL`): "
        "`python -m workshop run --production` then starts a PostgreSQL of its own."
    )
