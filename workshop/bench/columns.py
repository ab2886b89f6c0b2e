"""The columns of the benchmark's CSV files: what runner.py measures and report.py writes."""

COLUMNS = (
    "variant", "description", "step", "consumer", "layer", "server", "processes", "members",
    "repeats", "burst_messages", "burst_deliveries_per_s", "server_cpu_s_per_1k",
    "redis_cpu_s_per_1k", "rate", "paced_messages", "paced_deliveries_per_s", "p50_ms",
    "p95_ms", "p99_ms", "max_ms",
    "server_cpu_pct", "client_cpu_pct", "lost", "reordered", "duplicated",
    "rooms_burst_deliveries", "rooms_burst_lost", "rooms_burst_reordered", "meets_target", "error",
)  # fmt: skip
SLOW_COLUMNS = (
    "variant", "description", "consumer", "slow_mode", "slow_room_busy", "rooms",
    "members_per_room", "rate_per_room", "slow_rate", "p50_ms", "p99_ms", "max_ms",
    "slow_room_p50_ms", "repeats", "lost", "reordered", "duplicated", "error",
)  # fmt: skip
