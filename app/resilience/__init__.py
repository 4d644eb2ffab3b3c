"""What keeps a request alive, or fails it fast, when the upstream misbehaves: retries with backoff, circuit
breakers, bounded concurrency. Pure policy; the proxy applies it around each upstream call."""
