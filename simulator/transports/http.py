"""The HTTP server of the sandbox: the admin API and the SOAP services beside it (transports/soap.py);
with --https-port a second one serves the same application over TLS."""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    # A client that stops sending (half a request, a body shorter than its Content-Length) frees its
    # thread after this many seconds instead of holding it forever.
    timeout = 30

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # `command` and `path` are not set when the request line itself was refused (too long, garbage):
        # reading them raised AttributeError here, which killed the request before any answer.
        log.debug("%s %s %s", getattr(self, "command", "") or "-", _short(getattr(self, "path", "")), code)

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        log.debug("http: " + format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found before the application runs (request line over 64 KiB: 414, header lines too
        long or too many: 431, bad request line: 400) answer JSON like the API's own errors."""
        try:
            status = HTTPStatus(code)
            name, detail = status.phrase, explain or message or status.description
        except ValueError:
            name, detail = "Error", explain or message or ""
        self.log_request(code)
        if getattr(self, "request_version", "") == "HTTP/0.9":  # the default before the line is parsed:
            self.request_version = "HTTP/1.0"  # answer with a status line all the same (nobody speaks 0.9)
        body = json.dumps({"error": name, "detail": detail}).encode()
        self.send_response_only(code, name)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if getattr(self, "command", "") != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def _short(path: str) -> str:
    return path if len(path) <= 200 else f"{path[:200]}... ({len(path)} characters)"


class HttpTransport:
    def __init__(self, app: Flask | Callable[..., Any], host: str, port: int,
                 ssl_context: ssl.SSLContext | None = None):
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_QuietHandler,
                                                  ssl_context=ssl_context)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[0], self.server.server_port

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="opsim-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
