# Load the Celery app whenever Django starts, so that @shared_task (chat/tasks.py)
# uses it: the server then sends its jobs to the broker that settings.py names.
from .celery import app as celery_app

__all__ = ("celery_app",)
