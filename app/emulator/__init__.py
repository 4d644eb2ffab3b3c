"""The built-in fake Workers AI upstream behind `--emulator`: the documented wire format, emulated answers.

It listens on a private loopback port inside the proxy's own process and event loop, so the proxy's real
upstream path (HTTP client, SSE decoder, error mapping) is exercised end to end. `server` imports aiohttp's
web stack, so it is imported only when the emulator runs.
"""

EMULATOR_ACCOUNT = "emulator"
EMULATOR_TOKEN = "emulator-token"  # used when no CLOUDFLARE_API_TOKEN is configured; the emulator wants any
