"""Jobs for the Celery worker: long work, done outside the server, reported live.

follow_log is `tail -f` for the web: it sends each new line of a log file to the
one socket that asked for it. Celery finds this module by its name
(app.autodiscover_tasks() in chatsite/celery.py).
"""

import os
import time

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.conf import settings

# How long a job follows its log, in seconds.
MAX_RUN_SECONDS = 600


@shared_task
def follow_log(log_name, channel_name):
    # A task is ordinary, synchronous code: async_to_sync runs the layer's
    # coroutine to its end. Each message goes to the one socket that asked.
    send = async_to_sync(get_channel_layer().send)
    try:
        with open(settings.FOLLOWED_LOGS[log_name], encoding="utf-8", errors="replace") as log:
            log.seek(0, os.SEEK_END)  # like tail -f: the lines written from now on
            send(channel_name, {"type": "job.started"})
            line = ""
            deadline = time.monotonic() + MAX_RUN_SECONDS
            while time.monotonic() < deadline:
                line += log.readline()
                if line.endswith("\n"):  # a whole line (a writer may be mid-line)
                    send(channel_name, {"type": "job.line", "line": line.removesuffix("\n")})
                    line = ""
                else:
                    time.sleep(0.2)  # nothing new: look again in a moment
    except OSError as error:  # no such file, say: tell the page, not the server's path
        send(channel_name, {"type": "job.failed", "error": error.strerror})
        raise
