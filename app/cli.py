"""The `workers-ai-proxy` console script: arguments -> settings (validated here, once) -> uvicorn."""

from __future__ import annotations

import argparse
import copy
import errno
import logging
import os
import socket
import sys
import tempfile
from typing import Any

from app import __version__
from app.routing.resolver import EXAMPLE_CHAT_MODEL
from app.server.limits import raise_open_file_limit
from app.server.options import uvicorn_options
from app.settings import ConfigError, Settings, load_settings

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

named client keys: workers-ai-proxy keys create|list|revoke (see workers-ai-proxy keys --help)
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
    parser.add_argument(
        "command",
        nargs="?",
        choices=("serve", "check"),
        default="serve",
        help="serve (the default), or check: verify the configuration, token, account and gateway, then exit",
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
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["keys"]:
        return keys(given[1:])
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
    if args.command == "check":
        return run_check(settings)
    return serve(settings)


def keys(argv: list[str]) -> int:
    """`workers-ai-proxy keys ...` (app/keys_cli.py), on the state database the server would use."""
    from app import keys_cli

    try:
        settings = load_settings()
        path = settings.proxy_state_path
        redis_url = settings.proxy_redis_url.get_secret_value() if settings.proxy_redis_url else None
    except ConfigError:  # no Cloudflare account configured here: the keys need only where they are kept
        path = keys_cli.state_path_from(os.environ)
        redis_url = os.environ.get("PROXY_REDIS_URL") or None
    return keys_cli.main(argv, path, redis_url)


def serve(settings: Settings) -> int:
    import uvicorn  # imported late: `--help` and config errors stay instant

    problem = port_problem(settings.proxy_host, settings.proxy_port)
    if problem is not None:
        print(f"workers-ai-proxy: {problem}", file=sys.stderr)
        return 1
    print(banner(settings), file=sys.stderr)
    lighten_log_records()
    raise_open_file_limit()  # before the workers start: they inherit it
    if settings.proxy_workers > 1 and settings.proxy_metrics and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client's multiprocess mode: each worker writes its own files, a scrape adds them up
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="workers-ai-proxy-metrics-")
    uvicorn.run(
        "app.main:create_app_from_env",
        factory=True,
        host=settings.proxy_host,
        port=settings.proxy_port,
        workers=settings.proxy_workers,
        log_level=settings.proxy_log_level,
        log_config=log_config(settings.proxy_log_level, settings.proxy_log_format),
        access_log=False,  # the proxy's own access log replaces uvicorn's (app.observe.access_log)
        **uvicorn_options(settings),
    )
    return 0


def run_check(settings: Settings) -> int:
    import asyncio

    from app.check import check, report

    async def checked() -> int:
        if not settings.proxy_emulator:
            return report(await check(settings))
        from app.emulator.server import start_emulator

        async with start_emulator() as emulator:
            return report(await check(settings, emulator.api_base))

    return asyncio.run(checked())


def banner(settings: Settings) -> str:
    """What a newcomer needs to point a client at the proxy: a reachable URL (not the wildcard address), where
    answers come from, the auth mode, and one request to try."""
    from app.check import auth_mode

    host = settings.proxy_host
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{settings.proxy_port}/v1"
    if settings.proxy_emulator:
        where = "the built-in emulator (EMULATOR MODE: answers are emulated; no Cloudflare account is used)"
    else:
        where = f"Cloudflare account {settings.cloudflare_account_id}, upstream {settings.proxy_upstream}"
        if settings.cloudflare_gateway_id:
            where += f" via AI Gateway {settings.cloudflare_gateway_id}"
    needs_key = bool(settings.proxy_api_keys) or (settings.pass_through and not settings.proxy_emulator)
    message = '"messages": [{"role": "user", "content": "Hello"}]'
    body = f'{{"model": "{EXAMPLE_CHAT_MODEL}", {message}}}'
    listening = f" (listening on {host or 'all interfaces'})" if shown != host else ""
    return "\n".join(
        [
            f"workers-ai-proxy {__version__}: OpenAI API at {url}{listening}",
            f"  answers from: {where}",
            f"  auth: {auth_mode(settings)}",
            f"  try: curl {url}/chat/completions -H 'Authorization: Bearer {'$KEY' if needs_key else 'any'}' "
            f"-H 'Content-Type: application/json' -d '{body}'",
        ]
    )


def port_problem(host: str, port: int) -> str | None:
    """The port-in-use error as one clear line, instead of uvicorn's report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; stop what uses it, or choose --port / PROXY_PORT."
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None


def lighten_log_records() -> None:
    """What no log line of ours prints is not gathered per record: the caller's source line (a stack walk),
    thread, process and task names (the logging HOWTO's "Optimization" section). The console script owns the
    process, so it may decide this for all of it."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010  # Python 3.12+ only


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging setup plus the proxy's own loggers on the same handler; every record as one JSON
    object with PROXY_LOG_FORMAT=json."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    # the access line's own handler: a plain format costs half of uvicorn's (which looks up colours per record)
    config["formatters"]["proxy_access"] = {"format": "%(levelname)s:     %(message)s"}
    config["handlers"]["proxy_access"] = {
        "formatter": "proxy_access",
        "()": "app.observe.log_format.BatchedStreamHandler",
        "stream": "ext://sys.stderr",
    }
    if log_format == "json":
        for formatter in config["formatters"].values():
            formatter.clear()
            formatter["()"] = "app.observe.log_format.JsonFormatter"
    config["loggers"]["workers_ai_proxy.access"] = {
        "handlers": ["proxy_access"],
        "level": logging.getLevelName(level.upper()),
        "propagate": False,
    }
    config["loggers"]["workers_ai_proxy"] = {
        "handlers": ["default"],
        "level": logging.getLevelName(level.upper()),
        "propagate": False,
    }
    return config
