"""UTC days and moments, as the usage ledger, budgets and the admin tools count them (Workers AI resets at 00:00
UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def day_start(now: float) -> float:
    """00:00 UTC of the day `now` falls in."""
    return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def moment(text: str) -> float:
    """Unix seconds from an ISO date (2027-01-31) or date-time (2027-01-31T12:00Z); UTC unless it says otherwise.
    ValueError for anything else."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
