"""`workers-ai-proxy keys`: named client keys, where the proxy keeps them: on Redis with PROXY_REDIS_URL, else in
the state database (`PROXY_STATE_PATH`).

    workers-ai-proxy keys create --name team-a [--models PATTERN,...] [--rpm N] [--tpm N]
                                 [--model-rpm PATTERN=N ...] [--model-tpm PATTERN=N ...]
                                 [--daily-neurons N] [--monthly-neurons N] [--daily-tokens N] [--monthly-tokens N]
                                 [--expires DATE]
    workers-ai-proxy keys list
    workers-ai-proxy keys revoke NAME

`create` prints the key once (alone on stdout, for scripts); only its hash is kept. A running proxy sees a new or
revoked key within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.stores.keys import KeyRecord, KeyStore, ModelLimit, key_hash, new_key
from app.stores.sqlite import SQLiteState
from app.stores.usage import UsageStore
from app.utc import day_start, moment


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="workers-ai-proxy keys", description="Named client keys.")
    commands = parser.add_subparsers(dest="action", required=True)
    create = commands.add_parser("create", help="make a key and print it (once)")
    create.add_argument("--name", required=True, help="the key's name, as logs, metrics and usage show it")
    create.add_argument("--models", help="comma-separated glob patterns of the models it may use (default: all)")
    create.add_argument("--rpm", type=_positive, help="requests per minute (default PROXY_KEY_RPM)")
    create.add_argument("--tpm", type=_positive, help="tokens per minute (default PROXY_KEY_TPM)")
    create.add_argument(
        "--model-rpm",
        action="append",
        type=_per_model,
        default=[],
        metavar="PATTERN=N",
        help="requests per minute on each model the glob pattern matches (repeatable)",
    )
    create.add_argument(
        "--model-tpm",
        action="append",
        type=_per_model,
        default=[],
        metavar="PATTERN=N",
        help="tokens per minute on each model the glob pattern matches (repeatable)",
    )
    create.add_argument("--daily-neurons", type=_positive, help="neurons per day (UTC)")
    create.add_argument("--monthly-neurons", type=_positive, help="neurons per calendar month (UTC)")
    create.add_argument("--daily-tokens", type=_positive, help="tokens (input and output) per day (UTC)")
    create.add_argument("--monthly-tokens", type=_positive, help="tokens per calendar month (UTC)")
    create.add_argument("--expires", type=_date, help="when it stops working: 2027-01-31 or 2027-01-31T12:00Z")
    commands.add_parser("list", help="the keys: names, limits, state (never the keys)")
    revoke = commands.add_parser("revoke", help="stop a key from working")
    revoke.add_argument("name")
    return parser.parse_args(argv)


def main(argv: list[str], state_path: Path, redis_url: str | None = None) -> int:
    """On Redis when the proxy uses it (PROXY_REDIS_URL: the keys every replica reads), else the state database."""
    args = parse_args(argv)
    if redis_url is not None:
        return asyncio.run(_on_redis(args, redis_url))
    state = SQLiteState(state_path)
    try:
        return asyncio.run(_run(args, state, state))
    finally:
        state.close()


def state_path_from(environ: dict[str, str] | os._Environ[str]) -> Path:
    return Path(environ.get("PROXY_STATE_PATH", "data/proxy.sqlite3"))


async def _on_redis(args: argparse.Namespace, url: str) -> int:
    from redis.exceptions import RedisError

    from app.stores.redis_backend import key_store

    redis, keys, usage = key_store(url)
    try:
        return await _run(args, keys, usage)
    except (RedisError, OSError) as exc:
        print(f"workers-ai-proxy keys: Redis is unreachable ({type(exc).__name__})", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()


async def _run(args: argparse.Namespace, state: KeyStore, ledger: UsageStore) -> int:
    if args.action == "create":
        key = new_key()
        models = tuple(p.strip() for p in (args.models or "").split(",") if p.strip())
        record = KeyRecord(
            args.name,
            key_hash(key),
            models,
            args.rpm,
            args.tpm,
            args.daily_neurons,
            args.monthly_neurons,
            args.expires,
            created=time.time(),
            daily_tokens=args.daily_tokens,
            monthly_tokens=args.monthly_tokens,
            model_limits=model_limits(args.model_rpm, args.model_tpm),
        )
        try:
            await state.create(record)
        except ValueError as exc:
            print(f"workers-ai-proxy keys: {exc}", file=sys.stderr)
            return 1
        print(key)
        print(f"key {args.name!r} created; it is shown only this once", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if not await state.revoke(args.name):
            print(f"workers-ai-proxy keys: no key {args.name!r} in force", file=sys.stderr)
            return 1
        print(f"key {args.name!r} revoked", file=sys.stderr)
        return 0
    now = time.time()
    usage = {row["key"]: row for row in await ledger.totals(day_start(now), now + 1, ("key",))}
    print(_table(await state.all(), usage, now))
    return 0


def _table(records: list[KeyRecord], usage: dict[str, dict[str, Any]], now: float) -> str:
    header = ("name", "models", "rpm", "tpm", "per model", "daily", "monthly", "expires", "state", "today")
    rows: list[tuple[str, ...]] = [header]
    for r in records:
        state = "revoked" if r.revoked else "expired" if r.expires is not None and r.expires <= now else "active"
        expires = datetime.fromtimestamp(r.expires, UTC).strftime("%Y-%m-%d %H:%M") if r.expires else "-"
        rows.append(
            (
                r.name,
                ",".join(r.models) or "all",
                *(str(v) if v is not None else "-" for v in (r.rpm, r.tpm)),
                _per_model_text(r.model_limits),
                _budget_text(r.daily_neurons, r.daily_tokens),
                _budget_text(r.monthly_neurons, r.monthly_tokens),
                expires,
                state,
                _today(usage.get(r.name)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _today(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    return f"{row['requests']} requests, {row['neurons']:.1f} neurons"


def model_limits(rpm: list[tuple[str, int]], tpm: list[tuple[str, int]]) -> tuple[ModelLimit, ...]:
    """`--model-rpm` and `--model-tpm` pairs, one limit per pattern, in the order the patterns came."""
    found: dict[str, ModelLimit] = {}
    for pattern, n in rpm:
        found[pattern] = replace(found.get(pattern, ModelLimit(pattern)), rpm=n)
    for pattern, n in tpm:
        found[pattern] = replace(found.get(pattern, ModelLimit(pattern)), tpm=n)
    return tuple(found.values())


def _per_model_text(limits: tuple[ModelLimit, ...]) -> str:
    parts = []
    for limit in limits:
        rates = [f"{n} {unit}" for n, unit in ((limit.rpm, "rpm"), (limit.tpm, "tpm")) if n is not None]
        parts.append(f"{limit.pattern}: {' '.join(rates)}")
    return "; ".join(parts) or "-"


def _budget_text(neurons: int | None, tokens: int | None) -> str:
    parts = [f"{n} {unit}" for n, unit in ((neurons, "neurons"), (tokens, "tokens")) if n is not None]
    return ", ".join(parts) or "-"


def _per_model(text: str) -> tuple[str, int]:
    pattern, sep, number = text.rpartition("=")
    if not sep or not pattern.strip():
        raise argparse.ArgumentTypeError("PATTERN=N, e.g. @cf/meta/*=10")
    return pattern.strip(), _positive(number)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _date(text: str) -> float:
    try:
        return moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a date (2027-01-31) or a date and time (2027-01-31T12:00Z)") from None
