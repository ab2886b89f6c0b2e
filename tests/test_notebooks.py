"""The notebooks in notebooks/: stored clean, run top to bottom, and fail when the layer is broken.

Each notebook runs with nbclient in a fresh kernel, against a redis-server this test starts
(or REDIS_URL), with a per-cell time limit. The kernel is always this interpreter (the
workshop's venv), whatever Jupyter kernelspecs the machine has installed: a `python3`
kernelspec in ~/.local/share/jupyter may point at a Python without Django or Channels.
"""

from __future__ import annotations

import ast
import os
import pathlib
import re
import socket
import sys
import time

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

from workshop.manifest import REPO_ROOT
from workshop.ports import free_port
from workshop.redis_server import INSTALL_HINT, RedisServer, find_redis_server
from workshop.step_server import copy_project

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 60  # seconds per cell
BROKEN_CELL_TIMEOUT = 45  # a hang fails too; enough for notebook 3 to start Daphne on a busy CI box

pytestmark = pytest.mark.redis


def _ids(paths):
    return [path.stem for path in paths]


class ThisPythonKernelManager(AsyncKernelManager):
    """Starts the `python3` kernel with sys.executable, ignoring installed kernelspecs.

    With no kernel directories to search, jupyter_client falls back to ipykernel's own
    spec, whose command is the running interpreter.
    """

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)


def read(path: pathlib.Path):
    return nbformat.read(path, as_version=4)


def execute(notebook, timeout: int = CELL_TIMEOUT, **env_overrides: str) -> float:
    """Run a notebook top to bottom, filling in its outputs; returns the seconds taken.

    Raises CellExecutionError at the first cell that fails; the notebook then holds the
    outputs up to that cell. The kernel has stopped when this returns or raises.
    """
    env = dict(os.environ)
    env.pop("WORKSHOP_STEP_DIR", None)
    env.update(env_overrides)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernelManager,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the kernel's working folder
    )
    started = time.monotonic()
    client.execute(env=env)
    return time.monotonic() - started


def output_text(notebook) -> str:
    """All text the notebook's cells printed or displayed."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                parts.append(output.data.get("text/plain", ""))
            elif output.output_type == "error":
                parts.append(f"{output.ename}: {output.evalue}")
    return "\n".join(parts)


def first_error(notebook) -> tuple[int, dict] | None:
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                return index, output
    return None


def index_of_cell(notebook, text: str) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if text in cell.source)


def step_folder_of(path: pathlib.Path) -> str:
    """The step a notebook takes its settings from: notebook_step_dir("...") in its code."""
    source = "\n".join(cell.source for cell in read(path).cells)
    match = re.search(r'notebook_step_dir\("([^"]+)"\)', source)
    assert match, f"{path.name} does not call notebook_step_dir(...) to choose its step"
    return match.group(1)


def server_ports(text: str) -> set[int]:
    """The ports of the Daphne servers a notebook said it started."""
    found = re.findall(r"Daphne serves \S+ at http://127\.0\.0\.1:(\d+)", text)
    return {int(port) for port in found}


def something_listens(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def fresh_redis_url():
    """A Redis for one notebook run: REDIS_URL if given, else a redis-server of its own.

    Not the session's shared Redis (conftest's redis_url): notebook 2 reads group keys
    and notebook 3 watches a room, so parallel runs keep out of each other's way.
    """
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if find_redis_server() is None:
        message = f"The notebooks need redis-server (or REDIS_URL). {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    with RedisServer() as server:
        yield server.url


# --- stored state -----------------------------------------------------------------------------


def test_the_notebooks_are_all_there_in_order():
    assert [p.name for p in NOTEBOOKS] == [
        "01_channel_layer_basics.ipynb",
        "02_groups_and_fan_out.ipynb",
        "03_talk_to_a_live_chat.ipynb",
        "04_benchmark.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(path):
    notebook = read(path)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name} was saved with outputs in cells {dirty}. Clear them before committing: "
        f".venv/bin/jupyter nbconvert --clear-output --inplace {path.relative_to(REPO_ROOT)}"
    )
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_header_exercises_and_solutions(path):
    notebook = read(path)
    header = notebook.cells[0].source
    for part in ("**Goal.**", "**What you need running.**", "**Time.**"):
        assert part in header, f"{path.name}: the first cell lacks {part}"
    headings = [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "markdown"]
    assert "## Exercises" in headings and "## Solutions" in headings
    solutions = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions and all(c.metadata["jupyter"]["source_hidden"] for c in solutions)


def _step_code_lines() -> dict[str, str]:
    """Every substantial line of the steps' Python code, mapped to where it comes from."""
    lines = {}
    for folder in sorted(REPO_ROOT.glob("step*_*/")):
        for path in sorted([*folder.glob("chat/*.py"), *folder.glob("chatsite/*.py")]):
            for line in path.read_text(encoding="utf-8").splitlines():
                text = line.strip()
                if len(text) >= 30 and not text.startswith(("import ", "from ")):
                    lines.setdefault(text, str(path.relative_to(REPO_ROOT)))
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_shows_step_code_from_the_step_files(path):
    """Step code is imported or read from the step (show_source), never pasted into cells."""
    step_lines = _step_code_lines()
    notebook = read(path)
    pasted = [
        f"cell {index}: {line.strip()!r} (from {step_lines[line.strip()]})"
        for index, cell in enumerate(notebook.cells)
        for line in cell.source.splitlines()
        if line.strip() in step_lines
    ]
    assert not pasted, "step code pasted into the notebook:\n" + "\n".join(pasted)


def test_readme_lists_every_notebook():
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"]({path.name})" in readme, f"notebooks/README.md does not link {path.name}"


def test_kernel_is_this_python():
    spec = ThisPythonKernelManager(kernel_name="python3").kernel_spec
    assert spec.argv[0] == sys.executable


# --- execution --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path, fresh_redis_url, record_property):
    notebook = read(path)
    seconds = execute(notebook, REDIS_URL=fresh_redis_url)
    record_property("seconds", round(seconds, 1))
    print(f"{path.name} ran in {seconds:.1f} s")
    text = output_text(notebook)
    assert f"Using the Redis that REDIS_URL names: {fresh_redis_url}" in text
    assert first_error(notebook) is None
    for port in server_ports(text):  # notebook 3 stops the server it started
        assert not something_listens(port), f"{path.name} left a server running on port {port}"


def _without_channel_layers(settings: str) -> str:
    return _replace_assignment(settings, "CHANNEL_LAYERS", "")


def _in_memory_channel_layer(settings: str) -> str:
    return _replace_assignment(
        settings,
        "CHANNEL_LAYERS",
        'CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}',
    )


def _replace_assignment(source: str, name: str, replacement: str) -> str:
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == name for t in node.targets
        ):
            lines[node.lineno - 1 : node.end_lineno] = [replacement]
            return "\n".join(lines) + "\n"
    raise LookupError(f"no {name} = ... in the settings")


BREAKAGES = {
    # name: (which notebooks, settings rewrite or None, REDIS_URL or None)
    "redis-unreachable": (NOTEBOOKS, None, "closed-port"),
    "no-channel-layers": (NOTEBOOKS, _without_channel_layers, None),
    # The in-memory layer works inside one process; the notebooks that talk across
    # processes (notebook 1's push.py, notebook 3's server) must notice.
    "in-memory-layer": (
        [p for p in NOTEBOOKS if not p.name.startswith("02")],
        _in_memory_channel_layer,
        None,
    ),
}
BROKEN_CASES = [
    pytest.param(path, breakage, id=f"{path.stem}-{breakage}")
    for breakage, (paths, _, _) in BREAKAGES.items()
    for path in paths
]


@pytest.mark.parametrize(("path", "breakage"), BROKEN_CASES)
def test_broken_layer_configuration_fails_the_notebook(path, breakage, fresh_redis_url, tmp_path):
    """Break the layer configuration of the step a notebook uses: its run must fail."""
    _, rewrite, redis = BREAKAGES[breakage]
    env = {"REDIS_URL": fresh_redis_url}
    if redis == "closed-port":
        env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    if rewrite is not None:
        project = copy_project(REPO_ROOT / step_folder_of(path), tmp_path)
        settings = project / "chatsite" / "settings.py"
        settings.write_text(rewrite(settings.read_text(encoding="utf-8")), encoding="utf-8")
        env["WORKSHOP_STEP_DIR"] = str(project)

    notebook = read(path)
    with pytest.raises(CellExecutionError):
        execute(notebook, timeout=BROKEN_CELL_TIMEOUT, **env)

    index, error = first_error(notebook)
    setup = index_of_cell(notebook, "notebook_redis_url()")
    assert index > setup, f"failed in the set-up, not where the layer is used: {error.evalue}"
    text = output_text(notebook)
    for port in server_ports(text):  # stopped by the atexit hook although a cell failed
        assert not something_listens(port), f"{path.name} left a server running on port {port}"
    print(f"{path.name} [{breakage}] failed in cell {index}: {error.ename}: {error.evalue}")


def test_a_failing_cell_still_stops_the_server(fresh_redis_url):
    """Notebook 3's promise: the server stops when the kernel does, even after a failure."""
    notebook = read(NOTEBOOK_DIR / "03_talk_to_a_live_chat.ipynb")
    start = index_of_cell(notebook, "server.start()")
    notebook.cells.insert(start + 1, nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    with pytest.raises(CellExecutionError, match="boom"):
        execute(notebook, REDIS_URL=fresh_redis_url)
    ports = server_ports(output_text(notebook))
    assert len(ports) == 1, "the server did not start, so this test proves nothing"
    assert not something_listens(ports.pop())
