"""Settings `python -m workshop run --production` serves the last step with.

The step's own settings, read from the environment as on a server (DJANGO_DEBUG=0,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, REDIS_URL), plus what docs/production.md asks a
reader to add: from step 08 on, DATABASES from DATABASE_URL (workshop_database_settings.py,
with the stack's PostgreSQL), and, once the site serves static files, STATIC_ROOT, the
folder `collectstatic` fills and nginx serves. The stack points it at its scratch folder.
"""

import os

from workshop_database_settings import *  # noqa: F403  (the step's settings + DATABASE_URL)

STATIC_ROOT = os.environ["WORKSHOP_STATIC_ROOT"]
