"""Pure translation between the OpenAI protocol and each upstream dialect: no I/O here.

A dialect is one folder exposing a `DIALECT` (a table of translators per resource); `DIALECTS` is the one line
to add per dialect, and `routing.upstreams.UPSTREAMS` the line that lets a route choose it.
"""

from __future__ import annotations

from app.dialects.base import Dialect, supported
from app.dialects.native import DIALECT as NATIVE
from app.dialects.openai import DIALECT as OPENAI

DIALECTS: dict[str, Dialect] = {NATIVE.name: NATIVE, OPENAI.name: OPENAI}

__all__ = ["DIALECTS", "Dialect", "supported"]
