"""The in-process Responses store: bounded in number and age, each response visible to its owner only."""

from __future__ import annotations

import asyncio

from app.stores.responses import MemoryResponseStore, StoredResponse


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stored(response_id: str, owner: str = "key-1", size: int = 10) -> StoredResponse:
    return StoredResponse({"id": response_id, "output": [{"type": "message"}]}, [{"type": "message"}], [], owner, size)


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    store = MemoryResponseStore(max_entries=10, max_bytes=1000, ttl=60, clock=clock)

    async def scenario() -> None:
        await store.put(stored("resp_1"))
        clock.now += 59
        assert (await store.get("resp_1", "key-1")) is not None
        clock.now += 1
        assert await store.get("resp_1", "key-1") is None
        assert len(store) == 0

    asyncio.run(scenario())


def test_the_oldest_go_first_beyond_the_bound() -> None:
    store = MemoryResponseStore(max_entries=2, max_bytes=1000, ttl=60, clock=Clock())

    async def scenario() -> None:
        for n in range(3):
            await store.put(stored(f"resp_{n}"))
        assert await store.get("resp_0", "key-1") is None
        assert [await store.get(f"resp_{n}", "key-1") is not None for n in (1, 2)] == [True, True]
        assert len(store) == 2

    asyncio.run(scenario())


def test_only_the_owner_sees_or_deletes_it() -> None:
    store = MemoryResponseStore(max_entries=10, max_bytes=1000, ttl=60, clock=Clock())

    async def scenario() -> None:
        await store.put(stored("resp_1", owner="key-1"))
        assert await store.get("resp_1", "key-2") is None
        assert not await store.delete("resp_1", "key-2")
        assert await store.delete("resp_1", "key-1")
        assert await store.get("resp_1", "key-1") is None

    asyncio.run(scenario())


def test_the_conversation_is_history_input_and_output() -> None:
    entry = StoredResponse({"id": "r", "output": [{"n": 3}]}, [{"n": 2}], [{"n": 1}], "o")
    assert entry.conversation == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_the_oldest_go_first_beyond_the_byte_bound() -> None:
    store = MemoryResponseStore(max_entries=100, max_bytes=250, ttl=60, clock=Clock())

    async def scenario() -> None:
        for n in range(3):
            await store.put(stored(f"resp_{n}", size=100))
        assert await store.get("resp_0", "key-1") is None and len(store) == 2
        await store.put(stored("resp_huge", size=251))  # larger than the whole store: not kept
        assert await store.get("resp_huge", "key-1") is None and len(store) == 2
        assert await store.delete("resp_1", "key-1")
        await store.put(stored("resp_3", size=150))  # the deleted one's bytes were given back
        assert [await store.get(f"resp_{n}", "key-1") is not None for n in (2, 3)] == [True, True]

    asyncio.run(scenario())
