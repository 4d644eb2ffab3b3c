"""`python -m app.healthcheck [health|ready]`: exit 0 when the local proxy answers /health (liveness: the Docker
HEALTHCHECK) or /ready (readiness: compose's `depends_on: service_healthy`, load balancers)."""

from __future__ import annotations

import os
import sys
import urllib.request

PROBES = ("health", "ready")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    probe = args[0] if args else "health"
    if probe not in PROBES:
        print(f"usage: python -m app.healthcheck [{'|'.join(PROBES)}]", file=sys.stderr)
        return 2
    port = os.environ.get("PROXY_PORT", "8787")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{probe}", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"not {'healthy' if probe == 'health' else 'ready'}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
