"""nginx in front of the chat, run as an ordinary foreground process on a free port.

The site configuration is docs/production/nginx.conf, the file docs/production.md shows.
It is written for a server (port 80, Daphne on 8001 and 8002, static files in /srv);
render_site() changes exactly those values for this machine and nothing else, so what
runs here is what a reader copies. Everything nginx writes (pid, logs, temp files)
goes to a scratch folder: no root service, no /var/log.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
from collections.abc import Sequence

from .manifest import REPO_ROOT
from .ports import free_port
from .processes import answers_http, stop_process, wait_until

SITE_CONFIG = REPO_ROOT / "docs" / "production" / "nginx.conf"

INSTALL_HINT = (
    "Install nginx: Debian/Ubuntu `sudo apt-get install nginx`; macOS `brew install nginx`; "
    "Windows: inside WSL `sudo apt-get install nginx`. Only the program is used: the "
    "stack runs its own nginx on a free port, whether or not the system service runs."
)

# Debian installs nginx in /usr/sbin, which is not on an ordinary user's PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


class NginxUnavailable(RuntimeError):
    """nginx is not installed, or would not start with the rendered configuration."""


def find_nginx() -> str | None:
    """Path of the nginx program (NGINX overrides), or None."""
    return shutil.which(os.environ.get("NGINX") or "nginx", path=_SEARCH_PATH)


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    """Replace the one match of pattern; fail, naming it, if the site file lost that line."""
    result, count = re.subn(pattern, lambda _: replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise NginxUnavailable(
            f"{SITE_CONFIG.relative_to(REPO_ROOT)} should have exactly one match of "
            f"{pattern!r} (found {count}); workshop/production_nginx.py renders that line "
            "for this machine: change both together."
        )
    return result


def render_site(
    site_text: str, listen_port: int, server_ports: Sequence[int], static_root: pathlib.Path
) -> str:
    """The site file with this machine's ports and static folder, all else unchanged."""
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=0;\n" for port in server_ports)
    text = _replace_once(site_text, r"(?:^    server 127\.0\.0\.1:\d+ max_fails=0;\n)+", servers)
    text = _replace_once(text, r"^    listen 80;$", f"    listen 127.0.0.1:{listen_port};")
    return _replace_once(
        text, r"^        alias /srv/chat/static/;$", f"        alias {static_root}/;"
    )


def main_config(scratch: pathlib.Path, site_path: pathlib.Path) -> str:
    """nginx.conf around the site file: every path nginx writes is in the scratch folder."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {scratch / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    mime_types = pathlib.Path("/etc/nginx/mime.types")
    types_line = f"    include {mime_types};" if mime_types.is_file() else ""
    # As root, nginx would run its workers as "nobody", who cannot read a private scratch
    # folder; as anyone else the directive is ignored, so name the current user.
    user_line = "user root;" if os.geteuid() == 0 else ""
    return f"""\
{user_line}
worker_processes 1;
pid {scratch / "nginx.pid"};
error_log {scratch / "nginx-error.log"} notice;

events {{
    # Two connections per proxied socket (client side and Daphne side).
    worker_connections 4096;
}}

http {{
{types_line}
    default_type application/octet-stream;
    access_log {scratch / "nginx-access.log"};
{temp_paths}

    include {site_path};
}}
"""


class Nginx:
    """nginx serving the rendered site on 127.0.0.1:<port> until stop()."""

    def __init__(
        self,
        scratch: pathlib.Path,
        server_ports: Sequence[int],
        static_root: pathlib.Path,
        port: int | None = None,
        site_config: pathlib.Path = SITE_CONFIG,
    ):
        self.scratch = pathlib.Path(scratch)
        self.port = port or free_port()
        self.server_ports = list(server_ports)
        self.static_root = static_root
        self.site_config = site_config
        self.log_path = self.scratch / "nginx-error.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> pathlib.Path:
        site = self.scratch / "chat-site.conf"
        site.write_text(
            render_site(
                self.site_config.read_text(), self.port, self.server_ports, self.static_root
            )
        )
        main = self.scratch / "nginx.conf"
        main.write_text(main_config(self.scratch, site))
        return main

    def start(self, timeout: float = 15.0) -> Nginx:
        executable = find_nginx()
        if executable is None:
            raise NginxUnavailable(f"nginx was not found. {INSTALL_HINT}")
        config = self.write_config()
        command = [
            executable, "-p", str(self.scratch), "-c", str(config),
            "-e", str(self.log_path), "-g", "daemon off;",
        ]  # fmt: skip
        with open(self.scratch / "nginx-output.log", "ab") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        if not wait_until(
            lambda: answers_http(self.url + "/chat/"), timeout, interval=0.1, process=self.process
        ):
            self.stop()
            raise NginxUnavailable(
                f"nginx did not serve {self.url} within {timeout:.0f} s. Its log:\n"
                f"{self.log_text()[-3000:]}"
            )
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=5)
            self.process = None

    def log_text(self) -> str:
        parts = []
        for name in ("nginx-output.log", "nginx-error.log"):
            path = self.scratch / name
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)
