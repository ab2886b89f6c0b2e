"""The Celery app of chatsite, as Celery's "First steps with Django" guide sets it up.

Start the worker in a terminal of its own, with the same REDIS_URL as the server:
    celery -A chatsite worker --pool threads --concurrency 20 --loglevel info
"""

import os

from celery import Celery

# The worker is a process of its own: it reads the same settings as the server.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

app = Celery("chatsite")

# Celery's settings live in settings.py, each name starting with CELERY_
# (CELERY_BROKER_URL is Celery's broker_url).
app.config_from_object("django.conf:settings", namespace="CELERY")

# Find the tasks: the tasks.py module of every app in INSTALLED_APPS (chat/tasks.py).
app.autodiscover_tasks()
