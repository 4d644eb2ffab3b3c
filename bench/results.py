#!/usr/bin/env python3
"""Turn one side-by-side run (ours.json, floor.json, litellm.json, upstream.json) into bench/RESULTS.md.

Ratios are taken within the run: absolute figures drift ~30% between runs on this machine, ratios do not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cache_results  # bench/cache_results.py and team_results.py, beside this script
import team_results

LABELS = ("ours", "floor", "litellm", "upstream")
METRICS = (
    ("rps", "RPS"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("ttft_p50_ms", "TTFT p50 ms"),
    ("ttft_p99_ms", "TTFT p99 ms"),
    ("proxy_cpu_ms_per_req", "CPU ms/req"),
    ("peak_rss_mb", "peak RSS MB"),
)
Runs = dict[str, dict[str, dict[str, Any]]]


def load_protocols(path: Path | None) -> dict[str, Any]:
    """bench/protocol_streams.py's summary: {chat: {...}, messages: {...}, responses: {...}}."""
    if path is None or not path.exists() or not path.read_text().strip():
        return {}
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def protocol_checks(protocols: dict[str, Any]) -> list[tuple[str, str, str, float | None, str, float]]:
    """Each bridge's 64-token stream against Chat Completions' in the same run (issue 12)."""
    chat = protocols.get("chat") or {}
    checks: list[tuple[str, str, str, float | None, str, float]] = []
    for key, name in (("messages", "Messages"), ("responses", "Responses")):
        bridge = protocols.get(key) or {}
        cpu = bridge["cpu_ms_per_stream"] / chat["cpu_ms_per_stream"] if chat and bridge else None
        ttft = bridge["ttft_p50_ms"] - chat["ttft_p50_ms"] if chat and bridge else None
        checks += [
            ("gate", f"64-token stream CPU, {name}", f"{name}/Chat Completions (issue 12)", cpu, "<=", 1.3),
            ("gate", f"64-token stream TTFT p50, {name}", f"{name} - Chat Completions, ms, c=1", ttft, "<=", 1.0),
        ]
    return checks


def load(folder: Path, quiet: Path | None = None) -> Runs:
    runs: Runs = {}
    if quiet is not None and (quiet / "ours.json").exists():  # the same build, metrics and access log off
        runs["quiet"] = {r["scenario"]: r for r in json.loads((quiet / "ours.json").read_text())["results"]}
    for label in LABELS:
        path = folder / f"{label}.json"
        if path.exists():
            runs[label] = {r["scenario"]: r for r in json.loads(path.read_text())["results"]}
    return runs


def value(runs: Runs, label: str, scenario: str, metric: str) -> float | None:
    v = runs.get(label, {}).get(scenario, {}).get(metric)
    return float(v) if isinstance(v, int | float) and v == v else None


def ratio(runs: Runs, scenario: str, metric: str, other: str) -> float | None:
    ours, theirs = value(runs, "ours", scenario, metric), value(runs, other, scenario, metric)
    return ours / theirs if ours is not None and theirs else None


def peak(runs: Runs, label: str) -> float | None:
    values = [r.get("peak_rss_mb") for r in runs.get(label, {}).values() if r.get("peak_rss_mb")]
    return max(values) if values else None


Check = tuple[str, str, str, Callable[[Runs], float | None], str, float]  # kind, metric, figure, fn, op, limit


def checks() -> list[Check]:
    out: list[Check] = []
    for sc in ("chat_c16", "chat_c64", "chat_c256"):
        out += [
            (
                "gate",
                f"{sc} CPU/req",
                "ours/floor",
                lambda r, s=sc: ratio(r, s, "proxy_cpu_ms_per_req", "floor"),
                "<=",
                3,
            ),
            (
                "gate",
                f"{sc} CPU/req",
                "ours/LiteLLM",
                lambda r, s=sc: ratio(r, s, "proxy_cpu_ms_per_req", "litellm"),
                "<=",
                0.1,
            ),
            (
                "goal",
                f"{sc} CPU/req",
                "ours/floor",
                lambda r, s=sc: ratio(r, s, "proxy_cpu_ms_per_req", "floor"),
                "<=",
                2,
            ),
        ]
    out += [
        ("gate", "chat_c64 RPS", "ours/floor", lambda r: ratio(r, "chat_c64", "rps", "floor"), ">=", 0.33),
        ("gate", "chat_c64 RPS", "ours/LiteLLM", lambda r: ratio(r, "chat_c64", "rps", "litellm"), ">=", 10),
        ("goal", "chat_c64 RPS", "ours/floor", lambda r: ratio(r, "chat_c64", "rps", "floor"), ">=", 0.5),
        ("gate", "chat_c1 p50", "ours/floor", lambda r: ratio(r, "chat_c1", "p50_ms", "floor"), "<=", 3),
        ("goal", "chat_c1 p50", "ours/floor", lambda r: ratio(r, "chat_c1", "p50_ms", "floor"), "<=", 1.5),
        (
            "gate",
            "stream_c16 CPU/stream",
            "ours/floor",
            lambda r: ratio(r, "stream_c16", "proxy_cpu_ms_per_req", "floor"),
            "<=",
            3,
        ),
        (
            "gate",
            "stream_c16 CPU/stream",
            "ours/LiteLLM",
            lambda r: ratio(r, "stream_c16", "proxy_cpu_ms_per_req", "litellm"),
            "<=",
            1 / 25,
        ),
        (
            "goal",
            "stream_c16 CPU/stream",
            "ours/floor",
            lambda r: ratio(r, "stream_c16", "proxy_cpu_ms_per_req", "floor"),
            "<=",
            2,
        ),
        ("gate", "stream_c1 TTFT p50", "ours/floor", lambda r: ratio(r, "stream_c1", "ttft_p50_ms", "floor"), "<=", 2),
        ("goal", "stream_c1 TTFT p50", "ours - floor, ms", lambda r: _diff(r, "stream_c1", "ttft_p50_ms"), "<=", 1),
        ("gate", "stream_c256_paced errors+timeouts", "count", lambda r: _failures(r, "stream_c256_paced"), "<=", 0),
        (
            "gate",
            "stream_c256_paced p50",
            "ours/fake's own",
            lambda r: ratio(r, "stream_c256_paced", "p50_ms", "upstream"),
            "<=",
            1.1,
        ),
        (
            "gate",
            "stream_c256_paced TTFT p99",
            "ours/floor",
            lambda r: ratio(r, "stream_c256_paced", "ttft_p99_ms", "floor"),
            "<=",
            2,
        ),
        (
            "goal",
            "stream_c256_paced TTFT p99",
            "ours/floor",
            lambda r: ratio(r, "stream_c256_paced", "ttft_p99_ms", "floor"),
            "<=",
            1.3,
        ),
        (
            "gate",
            "embed_c16 CPU/req",
            "ours/floor",
            lambda r: ratio(r, "embed_c16", "proxy_cpu_ms_per_req", "floor"),
            "<=",
            3,
        ),
        (
            "gate",
            "embed_c16 CPU/req",
            "ours/LiteLLM",
            lambda r: ratio(r, "embed_c16", "proxy_cpu_ms_per_req", "litellm"),
            "<=",
            1 / 15,
        ),
        (
            "goal",
            "embed_c16 CPU/req",
            "ours/floor",
            lambda r: ratio(r, "embed_c16", "proxy_cpu_ms_per_req", "floor"),
            "<=",
            2,
        ),
        ("gate", "peak RSS (all scenarios)", "ours/floor", lambda r: _peak_ratio(r, "floor"), "<=", 1.5),
        ("gate", "peak RSS (all scenarios)", "ours/LiteLLM", lambda r: _peak_ratio(r, "litellm"), "<=", 0.25),
        ("goal", "peak RSS (all scenarios)", "ours/floor", lambda r: _peak_ratio(r, "floor"), "<=", 1.2),
        ("gate", "errors in every scenario (ours)", "count", lambda r: _all_failures(r), "<=", 0),
    ]
    for sc in ("chat_c16", "chat_c64", "chat_c256", "stream_c16", "embed_c16"):
        out.append(
            (
                "gate",
                f"{sc} CPU/req, observability on",
                "on/off (issue 11)",
                lambda r, s=sc: ratio(r, s, "proxy_cpu_ms_per_req", "quiet"),
                "<=",
                1.1,
            )
        )
    return out


def _diff(runs: Runs, scenario: str, metric: str) -> float | None:
    ours, floor = value(runs, "ours", scenario, metric), value(runs, "floor", scenario, metric)
    return ours - floor if ours is not None and floor is not None else None


def _failures(runs: Runs, scenario: str) -> float | None:
    row = runs.get("ours", {}).get(scenario)
    return None if row is None else float(row.get("errors", 0) + row.get("timeouts", 0))


def _all_failures(runs: Runs) -> float | None:
    rows = runs.get("ours", {}).values()
    return float(sum(r.get("errors", 0) + r.get("timeouts", 0) for r in rows)) if rows else None


def _peak_ratio(runs: Runs, other: str) -> float | None:
    ours, theirs = peak(runs, "ours"), peak(runs, other)
    return ours / theirs if ours is not None and theirs else None


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()} {platform.machine()}, {model}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def holds(got: float | None, op: str, limit: float) -> bool:
    if got is None:
        return False
    return {"<=": got <= limit, "<": got < limit, ">=": got >= limit}[op]


def render(
    runs: Runs,
    folder: Path,
    command: str,
    protocols: dict[str, Any] | None = None,
    team: Any = None,
    cache: Any = None,
) -> str:
    started = runs.get("ours", {}) and json.loads((folder / "ours.json").read_text()).get("started", "")
    lines = [
        "# Benchmark results: workers-ai-proxy vs the floor and LiteLLM",
        "",
        f"- Date of the run: {started or dt.date.today().isoformat()}",
        f"- Machine: {machine()}",
        f"- Command: `{command}` (wraps `../shared/bench/run_side_by_side.sh`; raw results in `{folder}`)",
        "- Every target runs as 1 worker pinned to one core; the fake upstream and the load generator share the other.",
        "- *floor*: a bare Starlette + aiohttp relay that does no translation; *fake's own*: the fake upstream",
        "  measured directly. All figures come from this one run; ratios are ours / theirs.",
        "- *ours* runs with metrics on and the access log at `info` (written to a file); *quiet* is the same build",
        "  with both off (`PROXY_METRICS=false`, `--log-level warning`), measured in the same run.",
        "",
        "## Targets (issue 3)",
        "",
        "| kind | metric | figure | value | target | result |",
        "|---|---|---|--:|--:|---|",
    ]
    for kind, metric, figure, fn, op, limit in checks():
        got = fn(runs)
        ok = holds(got, op, limit)
        lines.append(f"| {kind} | {metric} | {figure} | {fmt(got)} | {op} {fmt(limit)} | {'PASS' if ok else 'FAIL'} |")
    for kind, metric, figure, got, op, limit in [
        *protocol_checks(protocols or {}),
        *team_results.checks(team or {}, os.cpu_count() or 1),
        *cache_results.checks(cache or {}, runs.get("floor", {})),
    ]:
        ok = holds(got, op, limit)
        lines.append(f"| {kind} | {metric} | {figure} | {fmt(got)} | {op} {fmt(limit)} | {'PASS' if ok else 'FAIL'} |")
    labels = [label for label in (*LABELS, "quiet") if label in runs]
    lines += [
        "",
        "## Every scenario",
        "",
        "| scenario | metric | " + " | ".join(labels) + " | ours/floor | ours/LiteLLM |",
        "|---|---|" + "--:|" * (len(labels) + 2),
    ]
    for scenario in runs.get("ours", {}):
        for metric, title in METRICS:
            cells = [value(runs, label, scenario, metric) for label in labels]
            if cells[0] is None:
                continue
            lines.append(
                f"| {scenario} | {title} | "
                + " | ".join(fmt(c) for c in cells)
                + f" | {fmt(ratio(runs, scenario, metric, 'floor'))} | {fmt(ratio(runs, scenario, metric, 'litellm'))} |"
            )
        errors = [runs.get(label, {}).get(scenario, {}).get("errors") for label in labels]
        lines.append(f"| {scenario} | errors | " + " | ".join("-" if e is None else str(e) for e in errors) + " | | |")
    if protocols:
        lines += [
            "",
            "## One 64-token stream per protocol (bench/protocol_streams.py, one proxy, protocols in turn)",
            "",
            "| protocol | CPU ms/stream (c=16) | TTFT p50 ms (c=1) | TTFT p50 ms (c=16, mostly queueing) | errors |",
            "|---|--:|--:|--:|--:|",
        ]
        for name, row in protocols.items():
            cells = [row.get(k) for k in ("cpu_ms_per_stream", "ttft_p50_ms", "ttft_p50_ms_loaded", "errors")]
            lines.append(f"| {name} | " + " | ".join(fmt(c) if isinstance(c, float) else str(c) for c in cells) + " |")
    lines += team_results.table(team or {})
    lines += cache_results.table(cache or {})
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="OUT_DIR of run_side_by_side.sh")
    parser.add_argument("--command", default="bash bench/side_by_side.sh")
    parser.add_argument("--quiet", type=Path, help="OUT_DIR of the same build run with metrics and access log off")
    parser.add_argument("--protocols", type=Path, help="bench/protocol_streams.py's JSON summary")
    parser.add_argument("--team", type=Path, help="the folder of the keys-and-limits runs (issue 13)")
    parser.add_argument("--cache", type=Path, help="the folder of the reply cache runs (issue 14)")
    args = parser.parse_args()
    runs = load(args.folder, args.quiet)
    team, cache = team_results.load(args.team), cache_results.load(args.cache)
    print(render(runs, args.folder, args.command, load_protocols(args.protocols), team, cache), end="")


if __name__ == "__main__":
    main()
