"""The benchmark: how fast does each step deliver a chat message to every member of a room?

    python -m workshop bench            # every variant at N = 1, 10, 50, 200 (a few minutes)
    python -m workshop bench --quick    # every variant at N = 1, 10 (the test suite runs this)

Modules: load.py (the clients and what they count), servers.py (the variants and their
processes), floor.py (a bare websockets server, the floor), runner.py (the run),
report.py (tables, ratios, CSV, JSON, plot), cli.py (the command).
"""

from .load import BenchError
from .report import Results
from .runner import FULL, QUICK, Plan, run_benchmark
from .servers import CONFIGS, ON_REQUEST, SLOW, SWEEP, Variant

__all__ = [
    "BenchError",
    "CONFIGS",
    "FULL",
    "ON_REQUEST",
    "Plan",
    "QUICK",
    "Results",
    "SLOW",
    "SWEEP",
    "Variant",
    "run_benchmark",
]
