"""Jobs for the Celery worker: long work, done outside the server, reported live.

follow_log is `tail -f` for the web: it sends each new line of a log file to the
one socket that asked for it, until that socket closes. Celery finds this
module by its name (app.autodiscover_tasks() in chatsite/celery.py).
"""

import os
import time

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

# A job runs while its flag is in the cache (Redis): its socket sets the flag,
# and deletes it when it closes. If the server dies first, the flag expires.
MAX_RUN_SECONDS = 600


def job_key(job_id):
    return f"job:{job_id}"


@shared_task
def follow_log(job_id, log_name, channel_name):
    # A task is ordinary, synchronous code: async_to_sync runs the layer's
    # coroutine to its end. Each message goes to the one socket that asked.
    send = async_to_sync(get_channel_layer().send)
    try:
        with open(settings.FOLLOWED_LOGS[log_name], encoding="utf-8", errors="replace") as log:
            log.seek(0, os.SEEK_END)  # like tail -f: the lines written from now on
            send(channel_name, {"type": "job.started"})
            line = ""
            # The job looks at its flag between reads, and ends by itself once it
            # is gone: a way to stop it that works in every Celery pool.
            while cache.get(job_key(job_id)):
                line += log.readline()
                if line.endswith("\n"):  # a whole line (a writer may be mid-line)
                    send(channel_name, {"type": "job.line", "line": line.removesuffix("\n")})
                    line = ""
                else:
                    time.sleep(0.2)  # nothing new: look again in a moment
    except OSError as error:  # no such file, say: tell the page, not the server's path
        send(channel_name, {"type": "job.failed", "error": error.strerror})
        raise
