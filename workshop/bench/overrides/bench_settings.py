"""Settings the benchmark serves a step with: the step's own, with the channel layer swapped.

The step folders stay exactly as a student types them. workshop/bench/servers.py puts this
folder on PYTHONPATH and sets DJANGO_SETTINGS_MODULE=bench_settings; BENCH_LAYER chooses:

    step      the step's own CHANNEL_LAYERS, untouched (Redis, from REDIS_URL)
    memory    channels.layers.InMemoryChannelLayer (one process only)
    pubsub    channels_redis.pubsub.RedisPubSubChannelLayer on REDIS_URL
"""

import os

from chatsite.settings import *  # noqa: F403  (start from the step's own settings)

_LAYER = os.environ.get("BENCH_LAYER", "step")
_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

if _LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif _LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_REDIS_URL]},
        }
    }
elif _LAYER != "step":
    raise ValueError(f"BENCH_LAYER={_LAYER!r}: expected step, memory or pubsub")

# No log line per request or socket: the benchmark measures the chat, not the logging.
DEBUG = False
