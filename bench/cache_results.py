"""Issue 14's figures from the cache runs of bench/side_by_side.sh: the same build with the reply cache off, on with
every answer a miss (`PROXY_CACHE_MAX_BYTES=1`: each answer is looked up, kept and dropped at once: the whole miss
path every time), and on with hits (the load repeats one request), in alternating rounds, best round of each.

Chat hits are not measured here: the shared fake upstream always writes the whole token budget, so every chat
answer ends `finish_reason: length`, which is never cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from team_results import Team, _figure, _ratio, rows
from team_results import load as load_runs

Check = tuple[str, str, str, float | None, str, float]


def load(folder: Path | None) -> Team:
    return load_runs(folder)


def checks(cache: Team, floor: dict[str, dict[str, Any]]) -> list[Check]:
    if not cache:
        return []
    found: list[Check] = []
    for scenario in ("chat_c64", "embed_c16"):
        miss = _ratio(cache, "miss", "off", scenario, "proxy_cpu_ms_per_req")
        found.append(("gate", f"{scenario} CPU/req, cache miss", "miss/off (issue 14)", miss, "<=", 1.05))
    hit = _figure(cache, "hit", "embed_c16", "proxy_cpu_ms_per_req")
    floor_cpu = floor.get("embed_c16", {}).get("proxy_cpu_ms_per_req")
    ratio = hit / float(floor_cpu) if hit is not None and floor_cpu else None
    found.append(("gate", "embed_c16 CPU/req, cache hit", "hit/floor relay (issue 14)", ratio, "<=", 0.5))
    return found


def table(cache: Team) -> list[str]:
    if not cache:
        return []
    lines = [
        "",
        "## Reply cache (issue 14; best of the alternating rounds)",
        "",
        "*off*: `PROXY_CACHE=off`; *miss*: on, every answer a miss (`PROXY_CACHE_MAX_BYTES=1`); *hit*: on, the",
        "load's one request answered from the cache. Chat hits are not measured: the shared fake's answers always",
        "end `length`, which is never cached.",
        "",
    ]
    return lines + rows(cache, ("off", "miss", "hit"))
