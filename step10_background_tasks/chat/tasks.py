"""Jobs for the Celery worker: long work, done outside the server, reported live.

follow_log is `tail -f` for the web: it sends each new line of a log file to
the one socket that asked for it, until that socket says stop or goes away.
Celery finds this module by its name (app.autodiscover_tasks() in chatsite/celery.py).
"""

import os
import time

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

# A job runs only while its flag is in the cache (Redis). The socket that started
# it sets the flag for this many seconds and renews it every second while it is
# open (consumers.py); Stop and a closed page delete it. A socket that vanishes
# without a word (its server killed) stops renewing: its job ends within this time.
LEASE_SECONDS = 10

# How often, in seconds, a job with nothing new to read looks again.
POLL_SECONDS = 0.2


def job_key(job_id):
    """The cache key of a job's flag: while it exists, the job goes on."""
    return f"job:{job_id}"


@shared_task
def follow_log(job_id, log_name, channel_name):
    channel_layer = get_channel_layer()

    def report(event_type, **fields):
        # A task is ordinary, synchronous code, and no event loop runs in the
        # worker: async_to_sync runs the layer's coroutine to its end. The
        # message goes to the one socket that asked (its channel name), and
        # "type" names the handler there: "job.line" calls job_line().
        async_to_sync(channel_layer.send)(
            channel_name, {"type": event_type, "job": job_id, **fields}
        )

    try:
        # The name comes from the page, the path from settings.py: the page can
        # only ever choose among the files listed there.
        path = settings.FOLLOWED_LOGS[log_name]
        with open(path, encoding="utf-8", errors="replace") as log:
            log.seek(0, os.SEEK_END)  # like tail -f: the lines written from now on
            # Only now "running": every line written after the page shows it, it gets.
            report("job.started")
            line = ""
            # Cooperative stopping: the job looks at its flag between reads, and
            # ends by itself. Celery's revoke(terminate=True) would kill the
            # process running it, which only the prefork pool can do (not the
            # threads or solo pools, and prefork does not run on Windows).
            while cache.get(job_key(job_id)) is not None:
                line += log.readline()
                if line.endswith("\n"):  # a whole line (a writer may be mid-line)
                    report("job.line", line=line.removesuffix("\n"))
                    line = ""
                else:
                    time.sleep(POLL_SECONDS)
    except Exception as error:
        # Tell the page what went wrong, then raise it again: the worker logs the
        # traceback, marks the job failed, and goes on with the next one.
        report("job.failed", error=f"{type(error).__name__}: {error}")
        raise
    return "stopped"
