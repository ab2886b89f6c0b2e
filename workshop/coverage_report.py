"""Coverage of the step code, gathered from every Daphne process the tests started.

Each Daphne runs under coverage.py in a scratch copy of its step; here the data
files are combined, the copies' paths mapped back to the step folders (the
mapping comes from the manifest), and a report printed for the lesson's code.
"""

from __future__ import annotations

from .manifest import REPO_ROOT, load_steps

DATA_FILE = REPO_ROOT / ".coverage"
RCFILE = REPO_ROOT / "pyproject.toml"

# The step code every line of which some test must execute.
MEASURED = (
    "chat/consumers.py",
    "chat/routing.py",
    "chat/rooms.py",
    "chat/urls.py",
    "chat/views.py",
    "chatsite/asgi.py",
    "chatsite/urls.py",
)


def erase() -> None:
    import coverage

    coverage.Coverage(data_file=str(DATA_FILE), config_file=str(RCFILE)).erase()


def combine_and_report() -> float:
    """Combine the parallel data files and print the report; returns the total percentage."""
    import coverage

    steps = load_steps()
    cov = coverage.Coverage(data_file=str(DATA_FILE), config_file=str(RCFILE))
    cov.config.paths = {
        step.folder: [f"{REPO_ROOT / step.folder}/", f"*/{step.folder}/"] for step in steps
    }
    cov.combine(keep=False)
    cov.save()
    include = [str(REPO_ROOT / step.folder / name) for step in steps for name in MEASURED]
    print("\nCoverage of the step code, across all Daphne processes the tests started:")
    return cov.report(include=include, show_missing=True, skip_covered=False)
