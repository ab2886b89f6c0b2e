"""WSGI config for chatsite.

Kept because `startproject` creates it, but WSGI only speaks request/response:
it can never serve a WebSocket. This workshop serves the project through asgi.py.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

application = get_wsgi_application()
