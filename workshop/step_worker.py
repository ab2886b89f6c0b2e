"""The worker processes a step runs beside Daphne, for a step's copy.

From step 09 on, a room message that mentions "@name" goes to the channel
"mentions", which only `python manage.py runworker mentions` reads (StepWorker).
From step 10 on, the /logs/ page's jobs run in `celery -A chatsite worker`
(CeleryWorker). The tests and `workshop run` start them beside Daphne, with the
same environment (the same Redis).
"""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys

import redis

from .step_server import StepServer

# The channel step 09's worker reads (chat/mentions.py MENTIONS_CHANNEL).
MENTIONS_CHANNEL = "mentions"


class StoppedWithCtrlC(StepServer):
    """A worker process that the tooling stops the way a student does."""

    def stop(self, grace: float = 10.0) -> int | None:
        # Ctrl-C: the worker then exits normally (Celery after a warm shutdown: running
        # jobs may end first), and coverage.py (when measuring) saves what it saw.
        # SIGTERM would not let runworker do that.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass  # StepServer.stop terminates it, then kills it
        return super().stop(grace)


class StepWorker(StoppedWithCtrlC):
    """A runworker process reading one channel of the Redis channel layer at redis_url."""

    def __init__(
        self,
        project_dir: pathlib.Path,
        env: dict[str, str],
        redis_url: str,
        channel: str = MENTIONS_CHANNEL,
        coverage_rcfile: pathlib.Path | None = None,
        python: str = sys.executable,
    ):
        super().__init__(project_dir, env, coverage_rcfile=coverage_rcfile, python=python)
        self.redis_url = redis_url
        self.channel = channel
        self.log_path = (
            self.project_dir.parent / f"runworker-{self.project_dir.name}-{self.port}.log"
        )

    def command(self) -> list[str]:
        return self.python_command() + ["manage.py", "runworker", self.channel]

    def ready(self) -> bool:
        # The pub/sub layer reads a channel by subscribing to the Redis channel of
        # the same name: the worker is ready once Redis counts its subscription.
        # (Sent before that, a message would reach nobody.)
        try:
            with redis.Redis.from_url(self.redis_url, socket_timeout=1) as client:
                [(_, subscribers)] = client.pubsub_numsub(self.channel)
        except redis.RedisError:
            return False
        return subscribers > 0

    def not_ready(self) -> str:
        return f"`manage.py runworker {self.channel}` did not start reading its channel"


def celery_worker_argv(pool: str = "threads", concurrency: int = 20) -> list[str]:
    """`celery -A chatsite worker` as step 10's README starts it, after the Python
    executable: the threads pool, 20 jobs at once (a job that follows a log holds a
    slot until it stops)."""
    return [
        "-m", "celery", "-A", "chatsite", "worker", "--pool", pool,
        "--concurrency", str(concurrency), "--loglevel", "INFO",
    ]  # fmt: skip


class CeleryWorker(StoppedWithCtrlC):
    """`celery -A chatsite worker` for a step's copy (step 10 on): it runs the jobs the
    /logs/ page starts. `pool` is Celery's --pool (threads, solo or prefork)."""

    def __init__(
        self,
        project_dir: pathlib.Path,
        env: dict[str, str],
        pool: str = "threads",
        concurrency: int = 20,
        coverage_rcfile: pathlib.Path | None = None,
        python: str = sys.executable,
    ):
        super().__init__(project_dir, env, coverage_rcfile=coverage_rcfile, python=python)
        self.pool = pool
        self.concurrency = concurrency
        self.log_path = (
            self.project_dir.parent / f"celery-{pool}-{self.project_dir.name}-{self.port}.log"
        )

    def command(self) -> list[str]:
        return [
            *self.python_command(),
            *celery_worker_argv(self.pool, self.concurrency),
            # No waiting for other workers at start: they are none.
            "--without-mingle",
            "--without-gossip",
        ]

    def ready(self) -> bool:
        # Celery logs "celery@HOST ready." once it consumes from the broker.
        return " ready." in self.log_text()

    def not_ready(self) -> str:
        return "`celery -A chatsite worker` did not say it was ready"

    def finished(self, job_id: str) -> bool:
        """Whether the worker has logged the job's end (succeeded, or raised)."""
        return any(
            f"[{job_id}] succeeded" in line or f"[{job_id}] raised" in line
            for line in self.log_text().splitlines()
        )
