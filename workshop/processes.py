"""Start and stop the helper processes (Daphne, redis-server) the tooling runs."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request


def wait_until(condition, timeout: float, interval: float = 0.1, process=None) -> bool:
    """Poll condition() until it is true; stop early if process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(interval)
    return condition()


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL after grace seconds. Returns the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def answers_http(url: str) -> bool:
    """True once something answers HTTP at url, even with an error page (a 404, or
    nginx's 502 before the servers behind it are up): the server is listening."""
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True
