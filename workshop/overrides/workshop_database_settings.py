"""Settings the tooling serves a step with history (step 08 on) with on PostgreSQL: the
tests' PostgreSQL runs (tests/stored_messages.py) and, through
workshop_production_settings.py, `python -m workshop run --production`.

The step's own settings, plus the lines docs/production.md ("The database") tells a
reader to add to chatsite/settings.py: DATABASES from DATABASE_URL, read by dj-database-url.
The steps themselves stay on SQLite and never read DATABASE_URL: that is production
set-up, not a lesson. Without DATABASE_URL this is the step's SQLite, as the production
stack wants it on a machine without PostgreSQL; a DATABASE_URL that names anything but
PostgreSQL is refused before Django starts (workshop_database_url.py says why).
"""

import os

from django.core.exceptions import ImproperlyConfigured
from workshop_database_url import postgres_url_problem

from chatsite.settings import *  # noqa: F403  (start from the step's own settings)

_url = os.environ.get("DATABASE_URL")
if _url and (_problem := postgres_url_problem(_url)):
    raise ImproperlyConfigured(_problem)

# --- begin: the lines docs/production.md shows (tests/production/test_database.py) ---
import dj_database_url  # noqa: E402

# DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME runs the chat on PostgreSQL;
# without it, the SQLite database above.
if os.environ.get("DATABASE_URL"):
    DATABASES["default"] = dj_database_url.config()  # noqa: F405
    # The test database's name, written out: the browser tests' server
    # (ChannelsLiveServerTestCase) finds it only here (channels issue #2176).
    DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}  # noqa: F405
# --- end: the lines docs/production.md shows ---
