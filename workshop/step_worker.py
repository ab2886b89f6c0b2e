"""`python manage.py runworker CHANNEL` for a step's copy: Channels' worker process.

From step 09 on, a room message that mentions "@name" goes to the channel
"mentions", which only a runworker process reads. The tests and `workshop run`
start one beside Daphne, with the same environment (the same Redis).
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


class StepWorker(StepServer):
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

    def stop(self, grace: float = 10.0) -> int | None:
        # Ctrl-C, as a student stops it: runworker then exits normally, and
        # coverage.py (when measuring) saves what it saw. SIGTERM would not.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass  # StepServer.stop terminates it, then kills it
        return super().stop(grace)
