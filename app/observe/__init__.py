"""The observer seam and its users: metrics, the access log, traces. Observers read Exchanges and events;
they know nothing of HTTP and never see a secret (identities carry names, not keys)."""
