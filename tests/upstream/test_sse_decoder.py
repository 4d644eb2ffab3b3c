"""The upstream SSE decoder: any chunking, any line ending, only `data` matters."""

from __future__ import annotations

import random

import pytest

from app.upstream.sse import SSEDecoder


def decode(pieces: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.flush()


def every_chunking(data: bytes) -> list[list[bytes]]:
    rng = random.Random(7)
    cuts = [[data], [data[i : i + 1] for i in range(len(data))]]
    for _ in range(20):
        points = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 6))))
        cuts.append([data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)])
    return cuts


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_endings_and_any_split(newline: bytes) -> None:
    data = newline.join([b'data: {"a":1}', b"", b": comment", b"event: x", b'data: {"b":"\xc3\xa9"}', b"", b""])
    for pieces in every_chunking(data):
        assert decode(pieces) == [b'{"a":1}', b'{"b":"\xc3\xa9"}']


def test_multi_line_data_is_joined_with_lf() -> None:
    assert decode([b"data: one\ndata: two\n\n"]) == [b"one\ntwo"]


def test_data_without_space_and_unknown_fields() -> None:
    assert decode([b"data:x\nid: 3\nretry: 10\nfoo: bar\n\n"]) == [b"x"]


def test_last_event_without_blank_line_is_flushed() -> None:
    assert decode([b"data: [DONE]"]) == [b"[DONE]"]
    assert decode([b"data: [DONE]\n"]) == [b"[DONE]"]


def test_crlf_split_between_reads_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.feed(b"\n") == [b"a"]


def test_blank_lines_alone_produce_nothing() -> None:
    assert decode([b"\n\n\r\n: ping\n\n"]) == []


def test_fast_path_and_line_path_agree_across_a_switch() -> None:
    """LF-only reads take a block fast path; a CR later switches to line parsing mid-event."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == [b"a"]
    assert decoder.feed(b"data: c\r\n\r\n") == [b"b\nc"]
    assert decoder.feed(b"\n\ndata: d\n\n") == [b"d"]
