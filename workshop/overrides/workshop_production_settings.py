"""Settings `python -m workshop run --production` serves the last step with.

The step's own settings, read from the environment as on a server (DJANGO_DEBUG=0,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, REDIS_URL), plus the one thing docs/production.md
asks a reader to add once the site serves static files: STATIC_ROOT, the folder
`collectstatic` fills and nginx serves. The stack points it at its scratch folder.
"""

import os

from chatsite.settings import *  # noqa: F403  (start from the step's own settings)

STATIC_ROOT = os.environ["WORKSHOP_STATIC_ROOT"]
