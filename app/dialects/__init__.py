"""Pure translation between the OpenAI protocol and each upstream dialect: no I/O here.

A dialect is one folder exposing a `DIALECT` object; `REGISTRY` is the one line to add per dialect.
"""

from __future__ import annotations

from app.dialects.base import Dialect
from app.dialects.native import DIALECT as NATIVE
from app.dialects.openai import DIALECT as OPENAI

REGISTRY: dict[str, Dialect] = {NATIVE.name: NATIVE, OPENAI.name: OPENAI}

__all__ = ["REGISTRY", "Dialect"]
