"""Upstream error bodies -> ProxyError, unit level (the server-level mapping is in test_errors.py)."""

from __future__ import annotations

import datetime as dt

import orjson

from app.errors import ModelNotFound, QuotaExhausted, UpstreamError
from app.upstream.cloudflare_errors import seconds_until_utc_midnight, upstream_error


def test_binding_style_body_and_string_codes() -> None:
    error = upstream_error(400, orjson.dumps({"internalCode": "5007", "message": "No such model"}), {})
    assert isinstance(error, ModelNotFound)
    assert error.message == "No such model (Workers AI error 5007)"


def test_quota_codes_get_a_reset_time() -> None:
    error = upstream_error(429, orjson.dumps({"errors": [{"code": 3036, "message": "daily allocation"}]}), {})
    assert isinstance(error, QuotaExhausted)
    assert int(error.headers["Retry-After"]) > 0


def test_empty_body_keeps_the_status() -> None:
    error = upstream_error(503, b"", {})
    assert isinstance(error, UpstreamError)
    assert error.http_status == 503
    assert "503" in error.message


def test_unexpected_statuses_become_bad_gateway() -> None:
    assert upstream_error(302, b"moved", {}).http_status == 502


def test_seconds_until_midnight() -> None:
    assert seconds_until_utc_midnight(dt.datetime(2026, 1, 1, 23, 59, 30, tzinfo=dt.UTC)) == 30
    assert seconds_until_utc_midnight(dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC)) == 86400
