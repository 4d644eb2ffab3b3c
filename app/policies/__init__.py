"""Cross-cutting rules applied to every endpoint: who the caller is (identity), then admission hooks before the
upstream call (limits, budgets, cache lookup) and settlement hooks after it (usage, cache store)."""
