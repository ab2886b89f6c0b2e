"""Coverage of the step code, gathered from every Daphne process the tests started.

Each Daphne runs under coverage.py in a scratch copy of its step; here the data
files are combined, the copies' paths mapped back to the step folders (the
mapping comes from the manifest), and a report printed for the lesson's code.
"""

from __future__ import annotations

import pathlib

from .manifest import REPO_ROOT, load_steps

DATA_FILE = REPO_ROOT / ".coverage"
RCFILE = REPO_ROOT / "pyproject.toml"

# The step code every line of which some test must execute.
MEASURED = (
    "chat/admin.py",
    "chat/consumers.py",
    "chat/management/commands/announce.py",
    "chat/management/commands/notify.py",
    "chat/mentions.py",
    "chat/models.py",
    "chat/push.py",
    "chat/routing.py",
    "chat/rooms.py",
    "chat/tasks.py",
    "chat/urls.py",
    "chat/views.py",
    "chatsite/asgi.py",
    "chatsite/celery.py",
    "chatsite/urls.py",
)


# Lines no test can execute, each with the reason. Keyed by step file, then by the
# line's text (not its number, which moves when the file is edited).
# The browser leaving while its consumer sends to it: test_clean_up.py provokes it (a hundred
# pages that close while joining), but whether a send meets a closing socket is a race.
_CLIENT_GONE = {
    'await self.clean_up(1001)  # 1001: "going away"': (
        "reached only when a browser leaves in the instant its consumer sends to it: "
        "tests/acceptance/test_clean_up.py provokes it, a race no test can make certain"
    ),
}

OMITTED = {
    **{
        f"{step}/chat/consumers.py": _CLIENT_GONE
        for step in (
            "step06_resilience",
            "step07_users",
            "step08_history",
            "step09_notifications",
            "step10_worker",
            "step11_background_tasks",
            "step12_stopping_tasks",
            "step13_keeping_up",
        )
    },
    "step01_project_setup/chat/rooms.py": {
        "return re.fullmatch(ROOM_NAME_PATTERN, name) is not None": (
            "is_valid_room_name() arrives with the rule in step 01 but is first called by "
            "the room view of step 02; step 01 only shows the pattern on the index page"
        ),
    },
}


def erase() -> None:
    import coverage

    coverage.Coverage(data_file=str(DATA_FILE), config_file=str(RCFILE)).erase()


def combine_and_report(data_dir: pathlib.Path) -> list[str]:
    """Combine the data files in data_dir into DATA_FILE, print the report, and return the
    missed lines not in OMITTED."""
    import coverage

    steps = load_steps()
    cov = coverage.Coverage(data_file=str(DATA_FILE), config_file=str(RCFILE))
    cov.config.paths = {
        step.folder: [f"{REPO_ROOT / step.folder}/", f"*/{step.folder}/"] for step in steps
    }
    cov.erase()  # this run's data only, not what another run combined meanwhile
    cov.combine(data_paths=[str(data_dir)], keep=False)
    cov.save()
    include = [
        str(path)
        for step in steps
        for path in (REPO_ROOT / step.folder / name for name in MEASURED)
        if path.is_file()
    ]
    print("\nCoverage of the step code, across all Daphne processes the tests started:")
    try:
        cov.report(include=include, show_missing=True, skip_covered=False)
    except coverage.exceptions.NoDataError:  # e.g. --collect-only: no Daphne ran
        print("  none: no test started a Daphne process.")
        return ["no test executed any step code"]
    return unexplained_misses(cov, include)


def unexplained_misses(cov, files: list[str]) -> list[str]:
    """Print the listed omissions; return every other missed line as 'file:line: text'."""
    unexplained = []
    print("\nLines left out on purpose:")
    for path in files:
        try:
            _, _, _, missing, _ = cov.analysis2(path)
        except Exception:  # a file no process imported: every line counts as missed
            missing = None
        relative = pathlib.Path(path).relative_to(REPO_ROOT).as_posix()
        lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
        reasons = OMITTED.get(relative, {})
        if missing is None:
            unexplained.append(f"{relative}: never imported by any measured process")
            continue
        for number in missing:
            text = lines[number - 1].strip()
            if text in reasons:
                print(f"  {relative}:{number}: {reasons[text]}")
            else:
                unexplained.append(f"{relative}:{number}: {text}")
    return unexplained
