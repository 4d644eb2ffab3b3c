"""What the proxy must do to a model's output for one request, decided before the upstream call."""

from __future__ import annotations

from dataclasses import dataclass

from app.models.capabilities import ThinkStyle


@dataclass(frozen=True, slots=True)
class OutputPlan:
    max_tokens: int  # the budget sent upstream: using all of it means finish_reason "length"
    think: ThinkStyle | None = "tags"  # None: text completions, where <think> is just text
    tool_names: frozenset[str] = frozenset()  # tools offered: look for tool calls written as text
    stop: tuple[str, ...] = ()  # stop sequences the proxy enforces (empty when the upstream does)
