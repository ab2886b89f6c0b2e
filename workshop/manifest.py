"""The step manifest, steps.toml: the one ordered list of the workshop's steps."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "steps.toml"

CAPABILITIES = (
    "http", "websocket", "groups", "async", "input-checks", "student-tests", "reconnect",
    "clean-up", "mailbox", "burst", "hostile-input", "login", "history", "notifications",
    "worker", "tasks", "task-stop", "task-limits", "hot-path",
)  # fmt: skip

# The workshop's parts: part 1 builds the chat, part 2 ("going further") adds what a
# real chat needs. A step without a `part` key belongs to part 1.
PART_TITLES = {1: "the chat", 2: "going further"}


class ManifestError(ValueError):
    """steps.toml says something the tooling cannot use."""


@dataclasses.dataclass(frozen=True)
class Step:
    number: int
    folder: str
    title: str
    teach: int
    exercise: int
    capabilities: tuple[str, ...]
    changed: tuple[str, ...]
    part: int = 1
    # Commands this step starts beside the server, each in a terminal of its own; the
    # later steps keep them running. The type-along checklist says to start them, and to
    # restart them after a step that changes code (a worker does not reload it).
    processes: tuple[str, ...] = ()
    # Empty files the step needs in the project folder that no diff can create (the diff
    # of an empty file has no hunk), so they are not in the step folder either. The
    # checklist says how to make them; they stay for the later steps.
    files: tuple[str, ...] = ()

    @property
    def path(self) -> pathlib.Path:
        return REPO_ROOT / self.folder

    @property
    def label(self) -> str:
        return f"step{self.number:02d}"

    @property
    def minutes(self) -> int:
        return self.teach + self.exercise

    def has(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise ManifestError(f"unknown capability {capability!r}; known: {CAPABILITIES}")
        return capability in self.capabilities


def load_steps(path: pathlib.Path = MANIFEST_PATH) -> list[Step]:
    """Read steps.toml into Steps numbered 1, 2, ... in file order."""
    with open(path, "rb") as manifest:
        entries = tomllib.load(manifest).get("step", [])
    steps = []
    for number, entry in enumerate(entries, start=1):
        try:
            step = Step(
                number=number,
                folder=entry["folder"],
                title=entry["title"],
                teach=int(entry["teach"]),
                exercise=int(entry["exercise"]),
                capabilities=tuple(entry["capabilities"]),
                changed=tuple(entry["changed"]),
                part=int(entry.get("part", 1)),
                processes=tuple(entry.get("processes", ())),
                files=tuple(entry.get("files", ())),
            )
        except KeyError as missing:
            raise ManifestError(f"{path}: step {number} has no {missing} key") from None
        if step.part not in PART_TITLES:
            known = ", ".join(str(part) for part in PART_TITLES)
            raise ManifestError(f"{path}: {step.folder} has part = {step.part}; choose {known}")
        unknown = set(step.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ManifestError(f"{path}: {step.folder} names unknown capabilities {unknown}")
        steps.append(step)
    if not steps:
        raise ManifestError(f"{path} lists no [[step]]")
    return steps


def get_step(key: str | int) -> Step:
    """Find a step by number (3, "3", "03"), label ("step03") or folder name."""
    steps = load_steps()
    text = str(key).strip().rstrip("/\\")
    for step in steps:
        if text in (step.folder, step.label) or text.lstrip("0") == str(step.number):
            return step
    choices = ", ".join(f"{s.number} ({s.folder})" for s in steps)
    raise ManifestError(f"no step {key!r}; choose one of: {choices}")
