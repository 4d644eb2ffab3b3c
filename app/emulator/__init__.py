"""The built-in fake Workers AI upstream behind `--emulator`: the documented wire format, emulated answers.

It listens on a private loopback port inside the proxy's own process and event loop, so the proxy's real
upstream path (HTTP client, SSE decoder, error mapping) is exercised end to end.
"""

from app.emulator.server import EMULATOR_ACCOUNT, EMULATOR_TOKEN, RunningEmulator, start_emulator

__all__ = ["EMULATOR_ACCOUNT", "EMULATOR_TOKEN", "RunningEmulator", "start_emulator"]
