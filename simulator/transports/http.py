"""The HTTP server of the sandbox: the admin API and the SOAP services beside it (transports/soap.py);
with --https-port a second one serves the same application over TLS.

cheroot (CherryPy's WSGI server) serves them: HTTP/1.1 with keep-alive (a client's requests share one
connection: the development server of werkzeug closed it after every answer, so each call paid a TCP
handshake, a thread and a database connection), a pool of worker threads with idle connections waiting in
a selector rather than on a thread, TLS from the sandbox's own `ssl.SSLContext`, and limits on request
lines and headers. docs/architecture.md says why this one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import threading
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

log = logging.getLogger(__name__)

#: Bytes of a request line and of its headers, each (a larger request line: 414, larger headers: 431).
MAX_REQUEST_LINE = 64 * 1024
#: Worker threads: requests served at once (idle keep-alive connections hold none).
WORKERS = 32
#: Seconds a client may stay silent in the middle of a request, or idle between two, before its connection
#: is closed: a client that stops sending frees its worker.
IDLE_TIMEOUT = 30
#: Bytes of a request body left unread by the application that are still read (and dropped) before answering.
DRAIN = 16 * 1024 * 1024


class _Collector:
    """Stands for a connection's wfile while cheroot writes what is to be sent later."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)


class _Request(cheroot_server.HTTPRequest):
    """A request of the sandbox's server.

    An answer's head waits for the first bytes of its body and goes in the same send: cheroot sends them apart,
    and a client reading a small answer (a SOAP read, a JSON object) was woken twice for it, a cost on a busy
    machine. Chunked answers (none of the sandbox's own) are sent as cheroot does.

    Errors found before the application runs (a request line over the limit: 414, headers over it: 431,
    a malformed request: 400) answer JSON like the API's own errors."""

    _held_head = b""

    def _collected(self, write: Callable[[], None]) -> bytes:
        wfile, collector = self.conn.wfile, _Collector()
        self.conn.wfile = collector
        try:
            write()
        finally:
            self.conn.wfile = wfile
        return b"".join(collector.parts)

    def send_headers(self) -> None:
        head = self._collected(super().send_headers)
        if self.chunked_write:
            self.conn.wfile.write(head)
        else:
            self._held_head = head

    def write(self, chunk: bytes) -> None:
        if not self._held_head:
            super().write(chunk)
            return
        head, self._held_head = self._held_head, b""
        self.conn.wfile.write(head + self._collected(lambda: super(_Request, self).write(chunk)))

    def respond(self) -> None:
        super().respond()
        if self._held_head:  # an answer with no body (HEAD, an empty one): its head alone
            head, self._held_head = self._held_head, b""
            self.conn.wfile.write(head)

    def simple_response(self, status: str | int, msg: str = "") -> None:
        code = int(str(status)[:3])
        if code == 413 and not self.ready:  # cheroot's answer to headers over max_request_header_size
            code, msg = 431, "the request's header fields are too large"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        log.debug("http: %s %s", code, msg)
        body = json.dumps({"error": phrase, "detail": msg or phrase}).encode()
        self.close_connection = True  # what follows a refused request cannot be trusted to be one
        head = (f"{self.server.protocol} {code} {phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("iso-8859-1")
        with contextlib.suppress(OSError):  # the client is gone
            self.conn.wfile.write(head + body)


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class _Server(wsgi.Server):
    ConnectionClass = _Connection


class _ContextAdapter(BuiltinSSLAdapter):
    """cheroot's TLS adapter on a context the sandbox made (its CA's server certificate; later, client
    certificates): the certificate files are read by the context, not again here."""

    def __init__(self, context: ssl.SSLContext, certificate: Path, private_key: Path):
        super().__init__(str(certificate), str(private_key))
        self.context = context


def _draining(app: Callable[..., Any]) -> Callable[..., Any]:
    """The application, then what it left unread of the request's body is read and dropped (up to DRAIN
    bytes): an answer given before the body was read (413 over a size limit, a refused SOAP call) then reaches
    a client still sending, where closing on unread bytes would reset the connection under its answer."""
    def drained(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            return app(environ, start_response)
        finally:
            body, left = environ.get("wsgi.input"), DRAIN
            while body is not None and left > 0:
                try:
                    chunk = body.read(min(65536, left))
                except (OSError, ValueError):
                    break
                if not chunk:
                    break
                left -= len(chunk)
    return drained


class HttpTransport:
    def __init__(self, app: Callable[..., Any], host: str, port: int,
                 ssl_context: ssl.SSLContext | None = None, certificate: tuple[Path, Path] | None = None):
        self.server = _Server((host, port), _draining(app), numthreads=WORKERS, timeout=IDLE_TIMEOUT,
                              request_queue_size=128, shutdown_timeout=2)
        self.server.max_request_header_size = MAX_REQUEST_LINE
        # How often the connection loop looks up from its selector (idle connections' expiry, a stop): 0.5 s
        # by default, which is what every stop then waited.
        self.server.expiration_interval = 0.05
        if ssl_context is not None:
            if certificate is None:
                raise ValueError("HTTPS needs the server certificate and key files beside the context")
            self.server.ssl_adapter = _ContextAdapter(ssl_context, *certificate)
        self.server.prepare()  # binds now: the port is known (port 0) and a port in use fails here
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.bind_addr[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve, name="opsim-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.stop()
        if self._thread:
            self._thread.join(timeout=5)
