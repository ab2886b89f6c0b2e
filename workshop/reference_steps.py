"""What the reference steps set, read from their own files, for doctor's advice.

doctor compares a student's folder with the step it should match and names the step
where the expected value comes from ("capacity 1500, as step 06 sets it"). Those values
are read from the step folders, never written down here: the channel layer from each
step's chatsite/settings.py (run as Python: it computes values from the environment),
the Celery tasks and their parameters from its chat/tasks.py (parsed, not imported:
that would need Celery and Django set up).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import runpy

from .manifest import Step, load_steps


@dataclasses.dataclass(frozen=True)
class Layer:
    """A CHANNEL_LAYERS["default"]: its BACKEND, and the capacity its CONFIG sets (None:
    not set, so the backend's own default)."""

    backend: str
    capacity: int | None = None

    @property
    def effective_capacity(self) -> int | None:
        return self.capacity if self.capacity is not None else default_capacity(self.backend)

    def describe(self) -> str:
        if self.capacity is not None:
            return f'{self.backend} with "capacity": {self.capacity}'
        default = default_capacity(self.backend)
        return self.backend + (f" (capacity {default}, its default)" if default else "")


@functools.cache
def default_capacity(backend: str) -> int | None:
    """The capacity a layer backend has when CONFIG does not set one (channels_redis: 100)."""
    module, _, name = backend.rpartition(".")
    try:
        parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    capacity = parameters.get("capacity")
    return capacity.default if capacity is not None and isinstance(capacity.default, int) else None


@functools.cache
def layer_of(step: Step) -> Layer | None:
    """The step's default channel layer, as its settings compute it; None if it has none."""
    settings = runpy.run_path(str(step.path / "chatsite" / "settings.py"))
    default = (settings.get("CHANNEL_LAYERS") or {}).get("default")
    if not default:
        return None
    capacity = (default.get("CONFIG") or {}).get("capacity")
    return Layer(str(default["BACKEND"]), capacity)


def _first_step_with_the_same(step: Step, value_of) -> Step:
    """The earliest step from which on, up to step, value_of(...) is what it is at step."""
    steps = load_steps()
    value, origin = value_of(step), step
    for earlier in reversed(steps[: step.number - 1]):
        if value_of(earlier) != value:
            break
        origin = earlier
    return origin


def layer_origin(step: Step) -> Step:
    """The step that set the layer step has (step 06 for a capacity of 1500, say)."""
    return _first_step_with_the_same(step, layer_of)


@functools.cache
def tasks_of(step: Step) -> dict[str, tuple[str, ...]]:
    """The Celery tasks of the step's chat/tasks.py: dotted name -> parameter names."""
    path = step.path / "chat" / "tasks.py"
    if not path.is_file():
        return {}
    tasks = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and any(
            _decorator_name(decorator) in ("shared_task", "task")
            for decorator in node.decorator_list
        ):
            arguments = node.args
            names = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
            tasks[f"chat.tasks.{node.name}"] = tuple(names)
    return tasks


def _decorator_name(decorator: ast.expr) -> str:
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    if isinstance(decorator, ast.Attribute):
        return decorator.attr
    return decorator.id if isinstance(decorator, ast.Name) else ""


def task_origin(step: Step, task: str) -> Step:
    """The step from which on the task takes the parameters it takes at step."""
    return _first_step_with_the_same(step, lambda s: tasks_of(s).get(task))
