"""Issue 13's figures from the team runs of bench/side_by_side.sh: the same build with keys and limits off, on
(embedded), on (Redis), each measured in alternating rounds (best round of each, so that a noisy moment on the
machine does not decide a ratio); and one against two workers on Redis for throughput."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIGS = ("off", "embedded", "redis", "workers1", "workers2")
Team = dict[str, dict[str, dict[str, Any]]]  # config -> scenario -> the best round's figures
Check = tuple[str, str, str, float | None, str, float]


def load(folder: Path | None) -> Team:
    team: Team = {}
    if folder is None or not folder.is_dir():
        return team
    for run in sorted(folder.glob("*/ours.json")):
        config = run.parent.name.rsplit("-", 1)[0]
        for row in json.loads(run.read_text())["results"]:
            best = team.setdefault(config, {}).get(row["scenario"])
            if best is None or _better(row, best):
                team[config][row["scenario"]] = row
    return team


def _better(row: dict[str, Any], best: dict[str, Any]) -> bool:
    cpu, best_cpu = row.get("proxy_cpu_ms_per_req"), best.get("proxy_cpu_ms_per_req")
    if cpu and best_cpu:
        return bool(cpu < best_cpu)
    return bool(row.get("rps", 0) > best.get("rps", 0))


def _figure(team: Team, config: str, scenario: str, metric: str) -> float | None:
    value = team.get(config, {}).get(scenario, {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _ratio(team: Team, config: str, base: str, scenario: str, metric: str) -> float | None:
    ours, theirs = _figure(team, config, scenario, metric), _figure(team, base, scenario, metric)
    return ours / theirs if ours is not None and theirs else None


def checks(team: Team, cores: int) -> list[Check]:
    if not team:
        return []
    found: list[Check] = []
    for scenario in sorted(team.get("off", {})):
        for config, limit in (("embedded", 1.15), ("redis", 1.35)):
            cpu = _ratio(team, config, "off", scenario, "proxy_cpu_ms_per_req")
            found.append(("gate", f"{scenario} CPU/req, keys and limits on ({config})", "on/off (issue 13)", cpu, "<=", limit))
    scaling = _ratio(team, "workers2", "workers1", "chat_c64", "rps")
    figure = "2 workers / 1, Redis (issue 13)" + ("" if cores >= 4 else f"; {cores} cores shared with the load")
    found.append(("gate", "chat_c64 RPS, --workers 2", figure, scaling, ">=", 1.8))
    return found


def table(team: Team) -> list[str]:
    if not team:
        return []
    lines = [
        "",
        "## Keys, limits and Redis (issue 13; best of the alternating rounds)",
        "",
        "*off*: no key limits (the ledger on, as always); *embedded*: `sk-bench` a named key with requests and tokens",
        "per minute, both again for its model, and daily and monthly budgets in neurons and tokens (bench/team_key.py);",
        "*redis*: the same on Redis (`PROXY_REDIS_URL`); *workers1* / *workers2*: that on Redis with `--workers 1` /",
        "`--workers 2`, the proxy free to use both cores.",
        "",
    ]
    return lines + rows(team, CONFIGS)


def rows(runs: Team, configs: tuple[str, ...]) -> list[str]:
    """A table of each config's scenarios: RPS, p50, CPU per request, failures."""
    lines = ["| config | scenario | RPS | p50 ms | CPU ms/req | errors |", "|---|---|--:|--:|--:|--:|"]
    for config in configs:
        for scenario, row in runs.get(config, {}).items():
            cells = [row.get(k) for k in ("rps", "p50_ms", "proxy_cpu_ms_per_req")]
            shown = " | ".join("-" if c is None else f"{c:.3f}" if abs(c) < 10 else f"{c:.1f}" for c in cells)
            lines.append(f"| {config} | {scenario} | {shown} | {row.get('errors', 0) + row.get('timeouts', 0)} |")
    return lines
