"""The guard's view of the named keys: a key made or revoked elsewhere (the `keys` command, another replica) is
seen at the next look, at most a second later; requests meanwhile wait for a look in progress, never for nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.errors import AuthenticationFailed
from app.policies.identity import Credentials, KeyGuard
from app.policies.named_keys import NamedKeys
from app.stores.keys import KeyRecord, key_hash
from app.stores.sqlite import SQLiteState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_keys_made_and_revoked_elsewhere_are_seen_within_a_second(tmp_path: Path) -> None:
    async def scenario() -> None:
        server, command = SQLiteState(tmp_path / "s.sqlite3"), SQLiteState(tmp_path / "s.sqlite3")
        clock = Clock()
        guard = KeyGuard([], "cf-token", NamedKeys(server, clock))
        assert (await guard.identify(Credentials("Bearer anything"))).name == "open"
        await command.create(KeyRecord("team-a", key_hash("sk-a"), rpm=5))
        assert (await guard.identify(Credentials("Bearer anything"))).name == "open"  # not looked again yet
        clock.now += 1
        identity = await guard.identify(Credentials("Bearer sk-a"))
        assert identity.name == "team-a" and identity.access is not None and identity.access.rpm == 5
        with pytest.raises(AuthenticationFailed):
            await guard.identify(Credentials("Bearer anything"))  # a key is in force: every request needs one
        await command.revoke("team-a")
        clock.now += 1
        with pytest.raises(AuthenticationFailed) as revoked:
            await guard.identify(Credentials("Bearer sk-a"))
        assert revoked.value.code == "key_revoked"
        server.close()
        command.close()

    asyncio.run(scenario())


def test_concurrent_requests_wait_for_the_first_look(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = SQLiteState(tmp_path / "s.sqlite3")
        await state.create(KeyRecord("team-a", key_hash("sk-a"), rpm=5))
        guard = KeyGuard([], "cf-token", NamedKeys(state, Clock()))
        names = await asyncio.gather(*(guard.identify(Credentials(None, "sk-a")) for _ in range(20)))
        assert {identity.name for identity in names} == {"team-a"}
        state.close()

    asyncio.run(scenario())
