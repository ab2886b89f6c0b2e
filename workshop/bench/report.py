"""The benchmark's results: terminal tables, ratios, the target check, CSV, JSON and a plot."""

from __future__ import annotations

import csv
import dataclasses
import json
import pathlib

from .columns import COLUMNS, SLOW_COLUMNS

# The sweep variants the ratios compare.
ASYNC, SYNC, FLOOR = "step04", "step03", "floor"
# The keeping-up step and the step before it: its targets are ratios of these, at the
# target N (docs/benchmark.md, "The keeping-up step, measured").
KEEPING_UP, BEFORE_IT = "step13", "step12"
KEEPING_UP_TARGETS = (
    "at least 2x the deliveries/s of the step before it, p99 under 100 ms and within 6x of "
    "the floor's, nothing lost in the burst across rooms"
)

FILES = {
    "csv": "bench.csv",
    "slow_csv": "slow_handler.csv",
    "json": "bench.json",
    "plot": "bench.png",
}


def _ratio(numerator, denominator, digits=2):
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def _cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def text_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain fixed-width table: columns are (key, heading) pairs; the first is text."""
    # Imported here, as matplotlib is below: tabulate comes with the dev extras, and the
    # command line imports this module to list the bench commands even for `workshop run`,
    # which a student runs with the chat's own packages only.
    from tabulate import tabulate

    return tabulate(
        [[_cell(row.get(key)) for key, _ in columns] for row in rows],
        headers=[heading for _, heading in columns],
        colalign=["left"] + ["right"] * (len(columns) - 1),
        disable_numparse=True,  # the cells are formatted already
    )


MAIN_TABLE = [
    ("variant", "variant"),
    ("members", "N"),
    ("burst_deliveries_per_s", "max deliv/s"),
    ("server_cpu_s_per_1k", "CPU s/1k"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
    ("p99_ms", "p99 ms"),
    ("max_ms", "max ms"),
    ("paced_deliveries_per_s", "deliv/s"),
    ("server_cpu_pct", "srv CPU%"),
    ("lost", "lost"),
    ("reordered", "reord"),
    ("rooms_burst_lost", "burst lost"),
    ("rooms_burst_deliveries", "of"),
    ("meets_target", "target"),
]
RATIO_TABLE = [
    ("members", "N"),
    ("throughput_step04_vs_step03", "max deliv/s 04÷03"),
    ("p99_step04_vs_step03", "p99 04÷03"),
    ("throughput_step04_vs_floor", "max deliv/s 04÷floor"),
    ("p99_step04_vs_floor", "p99 04÷floor"),
    ("cpu_step04_vs_floor", "CPU/1k 04÷floor"),
]
SLOW_TABLE = [
    ("variant", "variant"),
    ("slow_room_busy", "slow room busy"),
    ("p50_ms", "others p50 ms"),
    ("p99_ms", "others p99 ms"),
    ("max_ms", "others max ms"),
    ("slow_room_p50_ms", "slow room p50 ms"),
    ("lost", "lost"),
    ("reordered", "reord"),
]


@dataclasses.dataclass
class Results:
    meta: dict
    rows: list[dict]  # the sweep (every N) and the server configurations (target N)
    slow_rows: list[dict]  # the slow-handler demonstration

    # --- reading ------------------------------------------------------------------------

    def row(self, variant: str, members: int) -> dict | None:
        return next(
            (r for r in self.rows if r["variant"] == variant and r["members"] == members), None
        )

    @property
    def members(self) -> list[int]:
        return sorted({row["members"] for row in self.rows})

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(row["variant"] for row in self.rows))

    def problems(self) -> list[str]:
        """Every cell that failed, lost, reordered or duplicated a message."""
        found = []
        for row in [*self.rows, *self.slow_rows]:
            where = f"{row['variant']} N={row.get('members', '-')}"
            if row.get("error"):
                found.append(f"{where}: {row['error']}")
            for key in ("lost", "reordered", "duplicated"):
                if row.get(key):
                    found.append(f"{where}: {row[key]} {key}")
        return found

    def ratios(self) -> list[dict]:
        """Step 04 against step 03 and against the floor, at each N.

        Throughput ratios above 1 mean step 04 delivers more per second; latency and CPU
        ratios above 1 mean step 04 is slower or costs more.
        """
        out = []
        for members in self.members:
            a, s, f = (self.row(name, members) or {} for name in (ASYNC, SYNC, FLOOR))
            out.append(
                {
                    "members": members,
                    "throughput_step04_vs_step03": _ratio(
                        a.get("burst_deliveries_per_s"), s.get("burst_deliveries_per_s")
                    ),
                    "p99_step04_vs_step03": _ratio(a.get("p99_ms"), s.get("p99_ms")),
                    "throughput_step04_vs_floor": _ratio(
                        a.get("burst_deliveries_per_s"), f.get("burst_deliveries_per_s")
                    ),
                    "p99_step04_vs_floor": _ratio(a.get("p99_ms"), f.get("p99_ms")),
                    "cpu_step04_vs_floor": _ratio(
                        a.get("server_cpu_s_per_1k"), f.get("server_cpu_s_per_1k")
                    ),
                }
            )
        return out

    def keeping_up(self) -> dict | None:
        """The keeping-up step against the step before it and the floor, at the target N;
        None unless all three were measured there."""
        target = self.meta["plan"]["members"] and max(self.meta["plan"]["members"])
        last, before, floor = (self.row(name, target) for name in (KEEPING_UP, BEFORE_IT, FLOOR))
        if not (last and before and floor) or any(r.get("error") for r in (last, before, floor)):
            return None
        throughput = _ratio(last["burst_deliveries_per_s"], before["burst_deliveries_per_s"])
        p99_vs_floor = _ratio(last["p99_ms"], floor["p99_ms"], 1)
        lost = (last.get("lost") or 0) + (last.get("rooms_burst_lost") or 0)
        return {
            "members": target,
            "throughput_vs_before": throughput,
            "p99_ms": last["p99_ms"],
            "p99_vs_floor": p99_vs_floor,
            "lost": lost,
            "met": bool(
                throughput is not None
                and throughput >= 2
                and last["p99_ms"] < 100
                and p99_vs_floor is not None
                and p99_vs_floor <= 6
                and not lost
            ),
        }

    def target_rows(self) -> list[dict]:
        target = self.meta["plan"]["members"] and max(self.meta["plan"]["members"])
        return [row for row in self.rows if row["members"] == target]

    def recommendation(self) -> dict:
        """The configuration to run in production, chosen by the numbers at the target N.

        Among the Django configurations that lost nothing, the one with the most headroom
        (the highest burst throughput), preferring those that met the p99 target. Capacity is
        steadier from run to run than a p99 on a shared machine, so it decides.
        """
        candidates = [
            r
            for r in self.target_rows()
            if r["variant"] != FLOOR and not r.get("error") and not r.get("lost")
        ]
        if not candidates:
            return {"variant": None, "met_target": False, "passing": [], "text": "none qualified"}
        passing = [r for r in candidates if r.get("meets_target")]
        best = max(passing or candidates, key=lambda r: r.get("burst_deliveries_per_s") or 0)
        verdict = (
            "meets the target with the most headroom"
            if passing
            else "has the most headroom, but no configuration met the p99 target in this run"
        )
        text = (
            f"{best['description']} ({best['variant']}) {verdict}: "
            f"{best['burst_deliveries_per_s']:,} deliveries/s at most; at "
            f"{best['rate']:g} msg/s x {best['members']} members p99 {best['p99_ms']} ms, "
            f"{best['lost']} lost, server CPU {_cell(best['server_cpu_pct'])}%"
        )
        return {
            "variant": best["variant"],
            "met_target": bool(passing),
            "passing": [r["variant"] for r in passing],
            "text": text,
        }

    # --- showing ------------------------------------------------------------------------

    def report(self) -> str:
        meta = self.meta
        parts = [
            f"Benchmark ({meta['mode']} mode), {meta['date']}, {meta['platform']}, "
            f"{meta['cpus']} CPUs, load average before/after {meta.get('load_average_before')}"
            f" / {meta.get('load_average_after')}; clients on {meta['client_loop']}; "
            f"each figure the median of {meta['plan'].get('repeat', 1)} run(s).",
            "",
            "Fan-out latency (send -> last member) at the paced load, maximum deliveries/s "
            f"(burst, {meta['plan']['window']} messages in flight), server CPU seconds per "
            "1,000 deliveries (burst):",
            text_table(self.rows, MAIN_TABLE),
            "",
            "Ratios (throughput: above 1 = step 04 delivers more; p99 and CPU: above 1 = "
            "step 04 is slower / costs more):",
            text_table(self.ratios(), RATIO_TABLE),
        ]
        keeping_up = self.keeping_up()
        if keeping_up:
            parts += [
                "",
                f"Keeping up, at N={keeping_up['members']}: {KEEPING_UP} delivers "
                f"{keeping_up['throughput_vs_before']}x the most deliveries/s of {BEFORE_IT}; "
                f"its p99 is {keeping_up['p99_ms']} ms, {keeping_up['p99_vs_floor']}x the "
                f"floor's; {keeping_up['lost']} lost. Targets ({KEEPING_UP_TARGETS}): "
                + ("met" if keeping_up["met"] else "NOT met"),
            ]
        if self.slow_rows:
            parts += [
                "",
                "Slow handler: other rooms' fan-out latency while one room's handler takes "
                "100 ms per message:",
                text_table(self.slow_rows, SLOW_TABLE),
            ]
        parts += [
            "",
            f"Target: {meta['target']}.",
            "Met by: "
            + (
                ", ".join(r["variant"] for r in self.target_rows() if r.get("meets_target"))
                or "none"
            ),
            "Recommended: " + self.recommendation()["text"],
        ]
        problems = self.problems()
        if problems:
            parts += ["", "Problems:", *(f"  {p}" for p in problems)]
        return "\n".join(parts)

    def plot(self, path: pathlib.Path | None = None):
        """Latency and throughput against N (plus the slow-handler bars); saved if path given.

        Uses matplotlib's Agg canvas directly: no display needed, and no pyplot state.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        panels = 3 if self.slow_rows else 2
        figure = Figure(figsize=(5.2 * panels, 4.4), layout="constrained")
        FigureCanvasAgg(figure)
        latency, throughput, *rest = figure.subplots(1, panels)
        target_members = max(self.meta["plan"]["members"])
        sweep = [v for v in self.variants if len([r for r in self.rows if r["variant"] == v]) > 1]
        for variant in self.variants:
            rows = [r for r in self.rows if r["variant"] == variant and not r.get("error")]
            xs = [r["members"] for r in rows]
            style = {"marker": "o", "label": variant}
            if variant not in sweep:  # a server configuration, measured at the target N only
                style = {"marker": "D", "linestyle": "none", "label": variant}
            latency.plot(xs, [r["p99_ms"] for r in rows], **style)
            throughput.plot(xs, [r["burst_deliveries_per_s"] for r in rows], **style)
        latency.axhline(self.meta["plan"]["target_p99_ms"], color="grey", linestyle="--")
        latency.set(
            xscale="log",
            yscale="log",
            xlabel="members in the room (N)",
            ylabel="fan-out latency p99 (ms)",
            title=f"p99 at {self.meta['plan']['rate']:g} messages/s (dashed: target)",
        )
        throughput.set(
            xscale="log",
            yscale="log",
            xlabel="members in the room (N)",
            ylabel="deliveries per second",
            title=f"Maximum deliveries/s ({self.meta['plan']['window']} messages in flight)",
        )
        for axes in (latency, throughput):
            axes.set_xticks(self.members, [str(n) for n in self.members])
            axes.grid(True, which="both", alpha=0.3)
        throughput.legend(
            fontsize="small",
            title=f"configurations: N={target_members} only"
            if len(sweep) < len(self.variants)
            else None,
            title_fontsize="x-small",
        )
        if rest:
            self._plot_slow(rest[0])
        figure.suptitle(
            f"{self.meta['platform']}, {self.meta['cpus']} CPUs, {self.meta['mode']} mode, "
            f"{self.meta['date']} - read the ratios, not the absolute times",
            fontsize="small",
        )
        if path is not None:
            figure.savefig(path, dpi=110)
        return figure

    def _plot_slow(self, axes) -> None:
        names = list(dict.fromkeys(r["variant"] for r in self.slow_rows))
        width = 0.38
        for offset, busy in ((-width / 2, False), (width / 2, True)):
            values = []
            for name in names:
                row = next(
                    (
                        r
                        for r in self.slow_rows
                        if r["variant"] == name and r["slow_room_busy"] == busy
                    ),
                    {},
                )
                values.append(row.get("p99_ms") or 0)
            axes.bar(
                [i + offset for i in range(len(names))],
                values,
                width,
                label="slow room busy" if busy else "slow room quiet",
            )
        axes.set_xticks(range(len(names)), [n.removeprefix("slow-") for n in names])
        axes.set(ylabel="other rooms' p99 (ms)", title="One room's handler takes 100 ms")
        axes.legend(fontsize="small")
        axes.grid(True, axis="y", alpha=0.3)

    # --- files --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "meta": self.meta,
            "rows": self.rows,
            "ratios": self.ratios(),
            "keeping_up": self.keeping_up(),
            "slow_handler": self.slow_rows,
            "recommendation": self.recommendation(),
        }

    def write(self, directory: pathlib.Path) -> dict[str, pathlib.Path]:
        """bench.csv, slow_handler.csv, bench.json and bench.png in directory."""
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {key: directory / name for key, name in FILES.items()}
        _write_csv(paths["csv"], self.rows, COLUMNS)
        _write_csv(paths["slow_csv"], self.slow_rows, SLOW_COLUMNS)
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        self.plot(paths["plot"])
        return paths

    @classmethod
    def load(cls, path: pathlib.Path) -> Results:
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        return cls(data["meta"], data["rows"], data["slow_handler"])


def _write_csv(path: pathlib.Path, rows: list[dict], columns) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in columns})
