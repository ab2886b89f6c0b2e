"""The worker processes a step runs beside Daphne, for a step's copy.

From step 10 on, a room message that mentions "@name" puts a job on the channel
"mentions" of the channel layer, which `python manage.py runworker mentions` reads
(StepWorker). From step 11 on, the /logs/ page's jobs run in `celery -A chatsite worker`
(CeleryWorker). The tests and `workshop run` start them beside Daphne, with the same
environment (the same Redis).
"""

from __future__ import annotations

import pathlib
import re
import signal
import subprocess
import sys

from .step_server import StepServer

# The channel step 10's worker reads (chat/mentions.py MENTIONS_CHANNEL).
MENTIONS_CHANNEL = "mentions"


class StoppedWithCtrlC(StepServer):
    """A worker process that the tooling stops the way a student does."""

    # How long a first Ctrl-C may take before the second, and the second before SIGTERM.
    WARM_SHUTDOWN_SECONDS = 3.0
    COLD_SHUTDOWN_SECONDS = 3.0

    def start(self, timeout: float = 30.0) -> StoppedWithCtrlC:
        # The log is appended to on every start: ready() reads what this start wrote.
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        return super().start(timeout)

    def log_since_start(self) -> str:
        """What the process logged since it was last started."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(getattr(self, "_log_offset", 0))
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, grace: float = 10.0) -> int | None:
        # Ctrl-C: the worker then exits normally, and coverage.py (when measuring) saves
        # what it saw; SIGTERM would not let runworker do that. Celery's first Ctrl-C is a
        # warm shutdown, which waits for the running jobs: a job of step 11 follows its log
        # for ten minutes, and one of step 12 whose page never closed until its flag
        # expires. So, as a student does, a second Ctrl-C after a moment: Celery's cold
        # shutdown, which ends the running jobs where the pool can (solo, prefork) and
        # saves the coverage data too.
        for wait in (self.WARM_SHUTDOWN_SECONDS, self.COLD_SHUTDOWN_SECONDS):
            if self.process is None or self.process.poll() is not None:
                break
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass  # Ctrl-C again; after that StepServer.stop terminates it, then kills it
        # A job still running now is one the cold shutdown cannot end (the threads pool
        # has no way to stop a thread: step 11's jobs follow their log for ten minutes),
        # and SIGTERM cannot either: only SIGKILL ends it, so no long wait before it.
        return super().stop(min(grace, self.COLD_SHUTDOWN_SECONDS))


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
        # runworker logs this line (django.channels.worker, INFO: shown under DEBUG, and by
        # the step's LOGGING) just before it starts reading. Nothing sent meanwhile is lost:
        # on the default layer a job waits in Redis until a worker reads it.
        return "Running worker for channels" in self.log_since_start()

    def not_ready(self) -> str:
        return f"`manage.py runworker {self.channel}` did not say it runs"


def celery_worker_argv(pool: str = "threads", concurrency: int = 20) -> list[str]:
    """`celery -A chatsite worker` as step 11's README starts it, after the Python
    executable: the threads pool, 20 jobs at once (a job that follows a log holds a
    slot until it ends)."""
    return [
        "-m", "celery", "-A", "chatsite", "worker", "--pool", pool,
        "--concurrency", str(concurrency), "--loglevel", "INFO",
    ]  # fmt: skip


# Celery's INFO lines about a job: "Task chat.tasks.follow_log[<id>] received", then
# "... succeeded in 2.1s: None", or "... raised unexpected: FileNotFoundError(...)".
JOB_LINE = re.compile(r"Task [\w.]+\[([0-9a-f-]+)\] (received|succeeded|raised|failed)")


class CeleryWorker(StoppedWithCtrlC):
    """`celery -A chatsite worker` for a step's copy (step 11 on): it runs the jobs the
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
        return " ready." in self.log_since_start()

    def not_ready(self) -> str:
        return "`celery -A chatsite worker` did not say it was ready"

    def jobs(self) -> dict[str, str]:
        """Every job this process logged since it started, by id: its last state
        ("received" while it runs; "succeeded", "raised" or "failed" once it ended)."""
        return dict(JOB_LINE.findall(self.log_since_start()))

    def running_jobs(self) -> set[str]:
        """The ids of the jobs it has received and not yet finished."""
        return {job for job, state in self.jobs().items() if state == "received"}

    def finished(self, job_id: str) -> bool:
        """Whether the worker has logged the job's end (succeeded, or raised)."""
        return self.jobs().get(job_id, "received") != "received"
