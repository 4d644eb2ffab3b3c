"""Issue 14's figures from the cache runs of bench/side_by_side.sh: the same build with the reply cache off, on with
every answer a miss (`PROXY_CACHE_MAX_BYTES=1`: each answer is looked up, kept and dropped at once: the whole miss
path every time), and on with hits (the load repeats one request), in alternating rounds, best round of each.

*hits*: chat and embeddings hits at c=16 and c=1 measured by bench/cache_hits.py (the shared bench's client) on a
proxy on the emulator: the shared fake upstream always writes the whole token budget, so its chat answers end
`finish_reason: length`, which is never cached. *floor*: the floor relay's embeddings at c=1, for their latency."""

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
    found.append(
        (
            "gate",
            "embed_c16 CPU/req, cache hit",
            "hit/floor relay (issue 14)",
            _over(hit, floor, "embed_c16"),
            "<=",
            0.5,
        )
    )
    for endpoint in ("chat", "embed"):
        cpu = _figure(cache, "hits", f"{endpoint}_hit_c16", "proxy_cpu_ms_per_req")
        relay = _over(cpu, floor, f"{endpoint}_c16")
        found.append(
            ("gate", f"{endpoint} hit c=16 CPU/req", "hit/floor relay (issue 14, cache_hits.py)", relay, "<=", 0.5)
        )
        p50 = _figure(cache, "hits", f"{endpoint}_hit_c1", "p50_ms")
        floor_c1 = floor if endpoint == "chat" else cache.get("floor", {})
        found.append(
            (
                "gate",
                f"{endpoint} hit c=1 p50",
                "hit/floor relay (issue 14)",
                _over(p50, floor_c1, f"{endpoint}_c1", "p50_ms"),
                "<",
                1.0,
            )
        )
    return found


def _over(
    figure: float | None, floor: dict[str, dict[str, Any]], scenario: str, metric: str = "proxy_cpu_ms_per_req"
) -> float | None:
    theirs = floor.get(scenario, {}).get(metric)
    return figure / float(theirs) if figure is not None and theirs else None


def table(cache: Team) -> list[str]:
    if not cache:
        return []
    lines = [
        "",
        "## Reply cache (issue 14; best of the alternating rounds)",
        "",
        "*off*: `PROXY_CACHE=off`; *miss*: on, every answer a miss (`PROXY_CACHE_MAX_BYTES=1`); *hit*: on, the",
        "load's one request answered from the cache; *hits*: chat and embeddings hits at c=16 and c=1 (bench/cache_hits.py,",
        "on the emulator: the shared fake's chat answers always end `length`, which is never cached); *floor*: the floor",
        "relay's embeddings at c=1.",
        "",
    ]
    return lines + rows(cache, ("off", "miss", "hit", "hits", "floor"))
