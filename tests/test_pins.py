"""One set of versions: the steps' requirements.txt files agree with pyproject.toml."""

import re
import tomllib

import pytest

from workshop.manifest import REPO_ROOT, load_steps

STEPS = load_steps()
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[normalise(match.group(1))] = match.group(2)
    return found


PROJECT_PINS = pins(
    tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
)


@pytest.mark.parametrize("step", STEPS, ids=[s.label for s in STEPS])
def test_step_requirements_are_exact_pins_matching_pyproject(step):
    lines = [
        line.strip()
        for line in (step.path / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    step_pins = pins(lines)
    assert len(step_pins) == len(lines), f"{step.folder}: every requirement must be pinned with =="
    for name, version in step_pins.items():
        assert PROJECT_PINS.get(name) == version, (
            f"{step.folder}/requirements.txt pins {name}=={version}, "
            f"pyproject.toml has {PROJECT_PINS.get(name)}"
        )


def test_redis_client_stays_below_8_where_the_redis_layer_is_used():
    # redis-py 8 closes idle chat sockets after 5 s (channels_redis#422).
    for step in STEPS:
        step_pins = pins((step.path / "requirements.txt").read_text().splitlines())
        if "channels-redis" in step_pins:
            assert "redis" in step_pins, f"{step.folder} must pin redis (redis<8)"
            assert int(step_pins["redis"].split(".")[0]) < 8, f"{step.folder}: redis-py 8"


def test_the_stated_versions_match_the_pins():
    design_versions = {"django": "5.2", "channels": "4.3", "daphne": "4.2", "channels-redis": "4.3"}
    for name, series in design_versions.items():
        assert PROJECT_PINS[name].startswith(series + "."), f"{name} {PROJECT_PINS[name]}"
