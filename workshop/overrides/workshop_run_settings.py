"""Settings `python -m workshop run` serves a step with: the step's own, plus two changes.

The step folders stay exactly as a student types them; what only the tooling
needs lives here. This module is put on PYTHONPATH by workshop/commands/run.py.
"""

import os

from chatsite.settings import *  # noqa: F403  (start from the step's own settings)

# A scratch database outside the step folder, so running a step leaves it clean.
DATABASES["default"]["NAME"] = os.environ["WORKSHOP_SCRATCH_DB"]  # noqa: F405

# No Redis reachable and none to start: fall back to the in-memory layer. It
# works for one server process only, which is all `workshop run` starts.
if os.environ.get("WORKSHOP_IN_MEMORY_LAYER") == "1":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
