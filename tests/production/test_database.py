"""docs/production.md, "The database": the settings lines it gives are the ones the tooling
serves the steps with on PostgreSQL (workshop/overrides/workshop_database_settings.py), they
work on every step that saves messages, and a DATABASE_URL that is not PostgreSQL's is
refused with a message. The PostgreSQL runs themselves are the history tests' `postgresql`
runs (tests/stored_messages.py) and tests/production/test_stack.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from markdown_it import MarkdownIt

from workshop.manifest import REPO_ROOT, load_steps
from workshop.production import OVERRIDES_DIR, ProductionStack
from workshop.step_server import StepServerError, copy_project

PAGE = REPO_ROOT / "docs" / "production.md"
OVERRIDE = OVERRIDES_DIR / "workshop_database_settings.py"
HISTORY_STEPS = [step for step in load_steps() if step.has("history")]
# The override's lines between these two comments are what the page shows.
BEGIN, END = "# --- begin: the lines docs/production.md shows", "# --- end: the lines"
NOQA = re.compile(r"  # noqa: [A-Z0-9, ]+$", re.MULTILINE)  # the linter's, not the reader's

# Run in a step's folder: its own settings, then the override's, as JSON. The override
# changes the step's DATABASES in place, so the step's are copied out first.
SETTINGS_OF_BOTH = """
import copy, importlib, json
def uppercase(module):
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}
step = copy.deepcopy(uppercase(importlib.import_module("chatsite.settings")))
override = uppercase(importlib.import_module("workshop_database_settings"))
print(json.dumps({"step": step, "override": override}, default=str))
"""


def python_blocks() -> list[str]:
    page = PAGE.read_text(encoding="utf-8")
    return [t.content for t in MarkdownIt().parse(page) if t.type == "fence" and t.info == "python"]


def override_lines() -> str:
    text = OVERRIDE.read_text(encoding="utf-8")
    start = text.index(BEGIN)
    region = text[text.index("\n", start) + 1 : text.index(END)]
    return NOQA.sub("", region)


def run_in(folder, script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(PYTHONPATH=str(OVERRIDES_DIR), PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_page_shows_the_lines_the_tooling_runs():
    shown = [block for block in python_blocks() if "dj_database_url" in block]
    assert shown == [override_lines()], (
        f"docs/production.md should show the lines of {OVERRIDE.name} between its begin and "
        "end comments, in one python block"
    )


@pytest.mark.parametrize("step", HISTORY_STEPS, ids=[step.folder for step in HISTORY_STEPS])
def test_on_every_step_with_history_the_override_is_the_steps_settings_plus_database_url(step):
    url = "postgres://chat:p%40ss%3Aword@db.example:5433/chatdb"
    result = run_in(step.path, SETTINGS_OF_BOTH, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr[-3000:]
    settings = json.loads(result.stdout.splitlines()[-1])
    database = settings["override"].pop("DATABASES")["default"]
    step_databases = settings["step"].pop("DATABASES")
    assert settings["override"] == settings["step"], "the override changed more than DATABASES"
    assert step_databases["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert {key: database[key] for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST")} == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "chatdb",
        "USER": "chat",
        "PASSWORD": "p@ss:word",
        "HOST": "db.example",
    }
    assert (database["PORT"], database["CONN_MAX_AGE"]) == (5433, 0)
    assert database["TEST"] == {"NAME": "test_chatdb"}


def test_without_database_url_the_override_is_the_steps_sqlite():
    result = run_in(HISTORY_STEPS[0].path, SETTINGS_OF_BOTH)
    assert result.returncode == 0, result.stderr[-3000:]
    settings = json.loads(result.stdout.splitlines()[-1])
    assert settings["override"] == settings["step"]


@pytest.mark.parametrize(
    "url, named",
    [
        ("mysql://chat:secret@db.example/chat", "a mysql:// URL"),
        ("sqlite:///secret.sqlite3", "a sqlite:// URL"),
        ("redis://:secret@127.0.0.1:6379/0", "a redis:// URL"),
        ("chat:secret@db.example/chat", "not a URL"),
    ],
)
def test_a_database_url_that_is_not_postgresql_is_refused_with_what_to_do(url, named):
    result = run_in(HISTORY_STEPS[-1].path, "import workshop_database_settings", DATABASE_URL=url)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        f"django.core.exceptions.ImproperlyConfigured: DATABASE_URL is {named}, and"
    ), result.stderr[-3000:]
    assert "postgres://USER:PASSWORD@HOST:5432/NAME" in last_line
    assert "unset DATABASE_URL" in last_line
    assert "secret" not in last_line, "the message shows what may be a password"


def test_the_production_stack_refuses_it_before_django_reads_it(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://chat:secret@db.example/chat")
    stack = ProductionStack(HISTORY_STEPS[-1])
    with pytest.raises(StepServerError, match=r"^DATABASE_URL is a mysql:// URL, and"):
        stack._database()


def test_the_pages_sqlite_tuning_takes_effect_on_step_08(tmp_path):
    (block,) = [block for block in python_blocks() if "transaction_mode" in block]
    copy = copy_project(HISTORY_STEPS[0].path, tmp_path)
    settings = copy / "chatsite" / "settings.py"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0],"
        " cursor.execute('PRAGMA synchronous').fetchone()[0], connection.transaction_mode)\n"
    )
    result = run_in(copy, script, DJANGO_SETTINGS_MODULE="chatsite.settings")
    assert result.stdout.split() == ["wal", "1", "IMMEDIATE"], result.stdout + result.stderr
