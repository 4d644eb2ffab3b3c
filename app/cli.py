"""The `workers-ai-proxy` console script: arguments -> settings (validated here, once) -> uvicorn."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
from typing import Any

from app import __version__
from app.server.limits import raise_open_file_limit
from app.server.options import uvicorn_options
from app.settings import ConfigError, load_settings

ENVIRONMENT_HELP = """\
environment variables (also read from .env, and from the config file as [cloudflare] / [proxy] keys):
  CLOUDFLARE_ACCOUNT_ID     Cloudflare account id (required unless --emulator)
  CLOUDFLARE_API_TOKEN      Workers AI token; unset = pass-through (the client's bearer token is used)
  CLOUDFLARE_API_BASE       default https://api.cloudflare.com/client/v4
  PROXY_API_KEYS            comma-separated keys clients must send as 'Authorization: Bearer'
  PROXY_MODEL_ALIASES       JSON object alias -> Workers AI model id
  PROXY_DEFAULT_MAX_TOKENS  max_tokens sent when the client gives none (default 4096)
  PROXY_HOST, PROXY_PORT, PROXY_LOG_LEVEL, PROXY_WORKERS   as the options below
  PROXY_EMULATOR            true = as --emulator
  PROXY_CONFIG              TOML config file (default config/proxy.toml when present)
"""

# CLI flag -> the environment variable it sets, so that uvicorn workers build the same settings.
FLAG_ENVIRONMENT = {
    "host": "PROXY_HOST",
    "port": "PROXY_PORT",
    "config": "PROXY_CONFIG",
    "log_level": "PROXY_LOG_LEVEL",
    "workers": "PROXY_WORKERS",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="workers-ai-proxy",
        description="OpenAI-compatible API server for Cloudflare Workers AI.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to listen on (PROXY_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (PROXY_PORT, default 8787)")
    parser.add_argument("--config", metavar="FILE", help="TOML config file (PROXY_CONFIG)")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="answer from the built-in Workers AI emulator; no Cloudflare account needed (PROXY_EMULATOR)",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        help="critical, error, warning, info or debug (PROXY_LOG_LEVEL, default info)",
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        help="worker processes sharing the port, one core each (PROXY_WORKERS, default 1)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for flag, variable in FLAG_ENVIRONMENT.items():
        value = getattr(args, flag)
        if value is not None:
            os.environ[variable] = str(value)
    if args.emulator:
        os.environ["PROXY_EMULATOR"] = "true"
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"workers-ai-proxy: {exc}", file=sys.stderr)
        return 2

    import uvicorn  # imported late: `--help` and config errors stay instant

    if settings.proxy_emulator:
        print(
            "workers-ai-proxy: emulator mode, answers are emulated (no Cloudflare account is used)",
            file=sys.stderr,
        )
    print(
        f"workers-ai-proxy {__version__}: OpenAI API on http://{settings.proxy_host}:{settings.proxy_port}/v1",
        file=sys.stderr,
    )
    raise_open_file_limit()  # before the workers start: they inherit it
    uvicorn.run(
        "app.main:create_app_from_env",
        factory=True,
        host=settings.proxy_host,
        port=settings.proxy_port,
        workers=settings.proxy_workers,
        log_level=settings.proxy_log_level,
        log_config=log_config(settings.proxy_log_level),
        access_log=settings.proxy_log_level == "debug",
        **uvicorn_options(settings),
    )
    return 0


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup plus the proxy's own logger on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": "app.server.access_log.RedactQueryValues"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_query")
    config["loggers"]["workers_ai_proxy"] = {
        "handlers": ["default"],
        "level": logging.getLevelName(level.upper()),
        "propagate": False,
    }
    return config
