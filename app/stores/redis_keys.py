"""Named keys on Redis, so that a key made or revoked through any replica (or the `keys` command pointed at the same
Redis) holds on all of them: each record as JSON under its name, an index from the key's hash to the name, the
revoked names, and a version every change moves. Creating and revoking are scripts: a name is taken once."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from app.stores.keys import KeyRecord, ModelLimit

RECORDS, HASHES, REVOKED, VERSION = "{wap}:k:records", "{wap}:k:hashes", "{wap}:k:revoked", "{wap}:k:version"
KEYS = [RECORDS, HASHES, REVOKED, VERSION]
# ARGV: name, hash, record
CREATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('INCR', KEYS[4])
return 1
"""
# ARGV: name
REVOKE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], '1')
redis.call('INCR', KEYS[4])
return 1
"""


class RedisKeyStore:
    __slots__ = ("_create", "_redis", "_revoke")

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._create = redis.register_script(CREATE)
        self._revoke = redis.register_script(REVOKE)

    async def create(self, record: KeyRecord) -> None:
        made = await self._create(keys=KEYS, args=[record.name, record.key_hash, _encode(record)])
        if not made:
            raise ValueError(f"a key named {record.name!r} exists already")

    async def by_hash(self, digest: str) -> KeyRecord | None:
        name = await self._redis.hget(HASHES, digest)
        if name is None:
            return None
        raw, revoked = await self._redis.hget(RECORDS, name), await self._redis.hexists(REVOKED, name)
        return None if raw is None else _decode(raw, bool(revoked))

    async def all(self) -> list[KeyRecord]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(RECORDS)
            pipe.hgetall(REVOKED)
            records, revoked = await pipe.execute()
        return sorted((_decode(raw, name in revoked) for name, raw in records.items()), key=lambda r: r.name)

    async def revoke(self, name: str) -> bool:
        return bool(await self._revoke(keys=KEYS, args=[name]))

    async def version(self) -> int:
        return int(await self._redis.get(VERSION) or 0)


def _encode(record: KeyRecord) -> bytes:
    return orjson.dumps(
        {
            "name": record.name,
            "key_hash": record.key_hash,
            "models": list(record.models),
            "rpm": record.rpm,
            "tpm": record.tpm,
            "daily_neurons": record.daily_neurons,
            "monthly_neurons": record.monthly_neurons,
            "daily_tokens": record.daily_tokens,
            "monthly_tokens": record.monthly_tokens,
            "model_limits": [[m.pattern, m.rpm, m.tpm] for m in record.model_limits],
            "expires": record.expires,
            "created": record.created,
        }
    )


def _decode(raw: bytes | str, revoked: bool) -> KeyRecord:
    data: dict[str, Any] = orjson.loads(raw)
    return KeyRecord(
        data["name"],
        data["key_hash"],
        tuple(data.get("models", ())),
        data.get("rpm"),
        data.get("tpm"),
        data.get("daily_neurons"),
        data.get("monthly_neurons"),
        data.get("expires"),
        revoked,
        data.get("created", 0.0),
        data.get("daily_tokens"),
        data.get("monthly_tokens"),
        tuple(ModelLimit(*limit) for limit in data.get("model_limits", ())),
    )
