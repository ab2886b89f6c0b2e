"""The notebooks in notebooks/: stored clean, run twice, and fail when the layer is broken.

Each notebook runs with nbclient against a redis-server this test starts (or REDIS_URL), with
a per-cell time limit: twice in one kernel, as a learner who presses Run All again would (the
first time with the exercises solved), and the second run must print what the first printed.
The kernel is always this interpreter (the workshop's venv), whatever Jupyter kernelspecs
the machine has installed: a `python3` kernelspec in ~/.local/share/jupyter may point at a
Python without Django or Channels.

Solutions live in closed <details> blocks of markdown cells, so Run All never shows them;
the test copies each one into its exercise cell and runs it, so they cannot rot.
"""

from __future__ import annotations

import ast
import copy
import os
import pathlib
import re
import socket
import sys
import time

import nbformat
import pytest
import redis
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

from workshop.manifest import REPO_ROOT
from workshop.ports import free_port
from workshop.processes import wait_until
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


def _client(notebook, timeout: int) -> NotebookClient:
    return NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernelManager,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the kernel's working folder
    )


# The kernels' temp folder, inside this session's pytest temp folder. A notebook
# removes its scratch files in an atexit hook, which does not run when its kernel is
# stopped after a failing cell; whatever stays behind then stays in pytest's folder,
# which pytest clears, not in the machine's temp folder.
_kernel_temp_dir: list[pathlib.Path] = []


@pytest.fixture(autouse=True, scope="session")
def kernel_temp_dir(tmp_path_factory):
    _kernel_temp_dir.append(tmp_path_factory.mktemp("kernel-tmp"))


def _kernel_env(env_overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WORKSHOP_STEP_DIR", None)
    if _kernel_temp_dir:
        for variable in ("TMPDIR", "TEMP", "TMP"):
            env[variable] = str(_kernel_temp_dir[-1])
    env.update(env_overrides)
    return env


def execute(notebook, timeout: int = CELL_TIMEOUT, **env_overrides: str) -> float:
    """Run a notebook top to bottom, filling in its outputs; returns the seconds taken.

    Raises CellExecutionError at the first cell that fails; the notebook then holds the
    outputs up to that cell. The kernel has stopped when this returns or raises.
    """
    started = time.monotonic()
    _client(notebook, timeout).execute(env=_kernel_env(env_overrides))
    return time.monotonic() - started


def execute_in_one_kernel(notebooks, timeout: int = CELL_TIMEOUT, **env_overrides: str) -> float:
    """Run several notebooks one after the other in ONE kernel, as Run All pressed again.

    Each notebook gets its own outputs. Raises CellExecutionError at the first failing cell.
    The kernel has stopped when this returns or raises; returns the seconds taken.
    """
    client = _client(notebooks[0], timeout)
    started = time.monotonic()
    with client.setup_kernel(env=_kernel_env(env_overrides)):
        for notebook in notebooks:
            client.nb = notebook
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
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


# --- exercises and solutions -----------------------------------------------------------------

# A solution: a closed <details> block in a markdown cell, its code in a ```python block.
SOLUTION_BLOCK = re.compile(
    r"<details>\s*<summary>\s*Solution (\d+)\b.*?</summary>(.*?)</details>", re.S
)
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
EXERCISE_CELL = re.compile(r"\A# Exercise (\d+)\b")


def solution_code(notebook) -> dict[int, str]:
    """The code of each solution that has some, by exercise number."""
    found = {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for number, body in SOLUTION_BLOCK.findall(cell.source):
                code = "\n".join(CODE_BLOCK.findall(body))
                if code:
                    found[int(number)] = code
    return found


def exercise_cells(notebook) -> dict[int, int]:
    """The cell index of each empty exercise cell, by exercise number."""
    return {
        int(match.group(1)): index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (match := EXERCISE_CELL.match(cell.source))
    }


def with_solutions(notebook):
    """A copy of the notebook with every solution's code typed into its exercise cell."""
    solved = copy.deepcopy(notebook)
    places = exercise_cells(solved)
    for number, code in solution_code(notebook).items():
        cell = solved.cells[places[number]]
        cell.source = f"{cell.source}\n{code}"
    return solved


# --- comparing two runs -----------------------------------------------------------------------

# What may differ between two correct runs: times, random names, ports, process ids, addresses.
VARYING = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+"), "<timestamp>"),
    (re.compile(r"0x[0-9a-f]+"), "0x<address>"),
    (re.compile(r"![A-Za-z0-9]+"), "!<random>"),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<id>"),
    (re.compile(r"\d+\.\d+"), "<number>"),
    (re.compile(r"process \d+"), "process <pid>"),
]


def comparable_text(cell) -> str:
    """What a cell printed or showed as text, with the parts that vary between runs masked."""
    text = ""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            text += output.text  # one print may arrive in several pieces: join them as is
        elif output.output_type in ("execute_result", "display_data"):
            if "image/png" not in output.data:  # a plot differs in every run
                text += output.data.get("text/plain", "") + "\n"
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return text


def cells_that_changed(first, second) -> list[str]:
    """The cells of `second` whose output differs from the same cell (by id) in `first`."""
    earlier = {cell.get("id"): cell for cell in first.cells}
    changed = []
    for index, cell in enumerate(second.cells):
        if cell.cell_type != "code" or EXERCISE_CELL.match(cell.source):
            continue
        before, after = comparable_text(earlier[cell.get("id")]), comparable_text(cell)
        if before != after:
            changed.append(f"cell {index}:\n--- first run\n{before}\n--- second run\n{after}")
    return changed


def listed_files(text: str) -> list[str]:
    """The files that show_source/show_assignment listings say they come from."""
    return re.findall(r"^# from (\S+)$", text, re.M)


# Notebooks whose second run repeats only the cells that measure nothing (see the test).
MEASURING_CELL = {"04_benchmark.ipynb": "measure("}


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
def test_notebook_has_header_exercises_solutions_and_key_points(path):
    notebook = read(path)
    header = notebook.cells[0].source
    for part in ("**Goal.**", "**What you need running.**", "**Time.**"):
        assert part in header, f"{path.name}: the first cell lacks {part}"
    headings = [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "markdown"]
    for heading in ("## Exercises", "## Solutions", "## Key points"):
        assert heading in headings, f"{path.name} has no {heading!r} section"
    assert headings.index("## Exercises") < headings.index("## Solutions")
    assert headings.index("## Key points") >= len(headings) - 2, "key points close the notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_run_all_cannot_reveal_a_solution(path):
    """Solutions sit in closed <details> blocks (markdown), never in a code cell Run All runs."""
    notebook = read(path)
    code_cells = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    solutions = solution_code(notebook)
    assert solutions, f"{path.name}: no solution with code found (<details><summary>Solution N"
    for number, code in solutions.items():
        first_line = next(line for line in code.splitlines() if line.strip())
        assert first_line not in code_cells, f"solution {number} is in a code cell"
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "<details open" not in markdown, "a solution block is open"
    exercises = exercise_cells(notebook)
    missing = sorted(set(solutions) - set(exercises))
    assert not missing, f"{path.name}: no '# Exercise N' cell to try (and test) solutions {missing}"
    unsolved = sorted(set(exercises) - set(solutions))
    assert not unsolved, f"{path.name}: exercise cells {unsolved} have no solution with code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_links_its_steps_the_next_notebook_and_the_docs(path):
    text = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#")[0] for t in targets if not t.startswith(("http://", "https://"))]
    broken = [t for t in local if not (NOTEBOOK_DIR / t).exists()]
    assert not broken, f"{path.name} links files that do not exist: {broken}"
    step_readme = f"../{step_folder_of(path)}/README.md"
    assert step_readme in local, f"{path.name} does not link {step_readme}"
    following = NOTEBOOKS[NOTEBOOKS.index(path) + 1 :]
    if following:
        assert following[0].name in local, f"{path.name} does not link {following[0].name}"
    assert any("channels.readthedocs.io" in t for t in targets), "no link to the Channels docs"
    assert any("channels_redis" in t for t in targets), "no link to channels_redis"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_step_readme_links_back_to_the_notebook(path):
    readme = REPO_ROOT / step_folder_of(path) / "README.md"
    next_section = readme.read_text(encoding="utf-8").split("\n## Next", 1)[1]
    assert f"../notebooks/{path.name}" in next_section, (
        f"{readme.relative_to(REPO_ROOT)} does not link {path.name} in its Next section"
    )


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
def test_notebook_runs_twice_in_one_kernel(path, fresh_redis_url, record_property):
    """Run All with the exercises solved, then Run All again: the second prints the same.

    Notebook 4's second run skips the cells that measure: they start fresh servers and
    use room names unique to each run, so repeating them only costs a minute of CPU and
    gives new numbers; the cells that read those numbers run again.
    """
    first = with_solutions(read(path))
    second = read(path)
    measuring = MEASURING_CELL.get(path.name)
    if measuring:
        second.cells = [c for c in second.cells if measuring not in c.source]
    seconds = execute_in_one_kernel([first, second], REDIS_URL=fresh_redis_url)
    record_property("seconds", round(seconds, 1))
    print(f"{path.name} ran twice in {seconds:.1f} s")

    text = output_text(first) + output_text(second)
    assert f"Using the Redis that REDIS_URL names: {fresh_redis_url}" in text
    assert first_error(first) is None and first_error(second) is None
    changed = cells_that_changed(first, second)
    assert not changed, "the second run printed something else:\n" + "\n".join(changed)
    for listed in listed_files(text):  # listings name files a learner can open
        assert (REPO_ROOT / listed).is_file(), f"a listing names {listed}, which does not exist"
    for port in server_ports(text):  # notebook 3 stops the server it started
        assert not something_listens(port), f"{path.name} left a server running on port {port}"
    if not os.environ.get("REDIS_URL") and not measuring:  # our own Redis: nobody else's groups
        left = groups_with_members(fresh_redis_url)
        assert not left, f"{path.name} left members in these groups: {left}"


def groups_with_members(redis_url: str) -> dict[str, int]:
    """Every channels_redis group in this Redis that still has members, with how many."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys("*:group:*")
        return {key.decode(): client.zcard(key) for key in keys if client.zcard(key)}
    finally:
        client.close()


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


def test_a_failing_cell_mid_job_still_stops_the_celery_worker(fresh_redis_url):
    """Section 8 of notebook 3: a cell failing while a job runs (its flag still set) must not
    leave the notebook's Celery worker behind when the kernel stops."""
    notebook = read(NOTEBOOK_DIR / "03_talk_to_a_live_chat.ipynb")
    started = index_of_cell(notebook, "job, channel = await start_job(")
    notebook.cells.insert(started + 1, nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    with pytest.raises(CellExecutionError, match="boom"):
        execute(notebook, REDIS_URL=fresh_redis_url)
    said = output_text(notebook)
    found = re.search(r"celery -A chatsite worker runs \S+ \(process (\d+)\)", said)
    assert found, "the worker did not start, so this test proves nothing"
    worker = int(found.group(1))
    assert wait_until(lambda: not process_exists(worker), 10), f"worker {worker} still runs"


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    return True
