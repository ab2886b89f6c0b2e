"""`python -m workshop run --production`: the stack of tests/production/, as a reader starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.workshop_command import closed_redis_url, workshop
from workshop.accounts import DEMO, log_in
from workshop.manifest import REPO_ROOT
from workshop.ports import free_port
from workshop.processes import wait_until
from workshop.temp_leftovers import temp_dir_env

from .conftest import LAST_STEP, require_nginx
from .test_stack import fetch


def serves(url: str) -> bool:
    try:
        return fetch(url)[0] == 200
    except OSError:
        return False  # nothing listens yet


def test_without_nginx_it_says_how_to_install_it():
    result = workshop(
        "run", "--production", "--port", str(free_port()), env={"NGINX": "/nonexistent"}
    )
    assert result.returncode == 2, result.output
    assert "nginx was not found" in result.output and "apt-get install nginx" in result.output


@pytest.mark.redis
@pytest.mark.slow
def test_it_serves_the_last_step_behind_nginx_and_ctrl_c_stops_everything(
    tmp_path, private_temp_dir
):
    require_nginx()
    port = free_port()
    log_path = tmp_path / "run.log"
    env = dict(os.environ, WORKSHOP_NO_VENV="1", PYTHONUNBUFFERED="1", REDIS_URL=closed_redis_url())
    env.update(temp_dir_env(private_temp_dir))  # a run stopped by a signal keeps its scratch
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workshop", "run", "--production", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the terminal's whole group
        )
    url = f"http://127.0.0.1:{port}"
    opened = f"Open {url}/chat/"
    try:
        # The banner comes once nginx serves (the stack's last process): wait for both.
        served = wait_until(
            lambda: serves(url + "/chat/") and opened in log_path.read_text(),
            90,
            0.5,
            process=process,
        )
        assert served, log_path.read_text()
        status, headers, _ = fetch(url + "/static/admin/css/base.css")
        assert status == 200 and headers["Server"].startswith("nginx")
        banner = log_path.read_text()
        if LAST_STEP.has("login"):
            # The account the banner names logs in through nginx.
            assert f"Log in as {DEMO.username!r} with the password {DEMO.password!r}" in banner
            assert log_in(url, DEMO)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=30)
    output = log_path.read_text()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert code == 0, output
    assert output.rstrip().splitlines()[-1] == "[workshop] Stopped.", output
    assert not serves(url + "/chat/"), "nginx still answers after Ctrl-C"
