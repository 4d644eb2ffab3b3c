"""Run the real proxy app under uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import threading
import time

import uvicorn
from fastapi import FastAPI

from app.server.options import PROTOCOL


class ProxyServer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # the proxy's own HTTP protocol, as the console script runs it (request head limits, slow clients)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", http=PROTOCOL)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="proxy-server", daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> ProxyServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("proxy server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
