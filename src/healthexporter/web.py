"""The HTTP server: ``/metrics``, a landing page, ``/-/healthy`` and ``/-/ready``.

A thin shell, as client_python's handler is: ``/metrics`` picks one of the byte strings the
collector rendered after the last sync (``RenderedExposition.choose``), so a request does no
work but copy bytes. That is why the standard library's ``ThreadingHTTPServer`` is enough and
no framework is used. What it still must get right, it does here:

- one daemon thread per connection, and a read timeout on each socket (``timeout``, 10 s):
  a slow or stuck client holds only its own thread, never the accept loop or other scrapes;
  TLS handshakes happen in that thread too, for the same reason;
- http.server's request-line (64 KiB → 414) and header (64 KiB a line, 100 lines → 431)
  limits; a GET or HEAD with a body is refused (400), other methods get 405 on known paths;
- TLS and basic auth from the exporter-toolkit web config (``web_config``); basic auth guards
  every path, as in node_exporter.
"""

from __future__ import annotations

import html
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from healthexporter.exposition import ExporterStatus, RenderedExposition
from healthexporter.model import RateLimitState
from healthexporter.web_config import WebConfig

__all__ = [
    "LandingRepository",
    "LandingStatus",
    "WebServer",
    "parse_listen_address",
]

log = logging.getLogger("healthexporter.web")

READ_TIMEOUT_SECONDS = 10.0
_PATHS = ("/", "/metrics", "/-/healthy", "/-/ready")
_TEXT = "text/plain; charset=utf-8"


# --- what the landing page shows ------------------------------------------------------------
@dataclass(frozen=True)
class LandingRepository:
    project: str
    repository: str
    last_sync_at: datetime | None  # when the last sync finished; None before the first
    ok: bool | None  # None before the first sync
    error_reason: str | None = None
    items: int | None = None  # items the last sync fetched


@dataclass(frozen=True)
class LandingStatus:
    version: str
    repositories: Sequence[LandingRepository] = ()
    rate_limits: Sequence[RateLimitState] = ()
    computed_at: datetime | None = None  # when the served metrics were computed

    @classmethod
    def from_exporter_status(
        cls, status: ExporterStatus, computed_at: datetime | None = None
    ) -> LandingStatus:
        repositories = []
        for name, repo in status.repositories.items():
            report = repo.last_report
            repositories.append(
                LandingRepository(
                    project=repo.project,
                    repository=name,
                    last_sync_at=repo.last_finished_at,
                    ok=None if report is None else report.ok,
                    error_reason=None if report is None else report.error_reason,
                    items=None if report is None else report.items,
                )
            )
        return cls(
            version=status.version,
            repositories=sorted(repositories, key=lambda r: (r.project, r.repository)),
            rate_limits=[status.rate_limits[k] for k in sorted(status.rate_limits)],
            computed_at=computed_at,
        )


def _time(at: datetime | None) -> str:
    return "never" if at is None else at.isoformat(timespec="seconds")


def _number(value: int | None) -> str:
    return "?" if value is None else str(value)


def landing_page(status: LandingStatus) -> bytes:
    """The HTML of ``/``: every value escaped, nothing fetched by the browser."""
    e = html.escape
    rows = []
    for repo in status.repositories:
        if repo.ok is None:
            result = "not synced yet"
        elif repo.ok:
            result = "ok"
        else:
            result = f"failed ({repo.error_reason or 'error'})"
        rows.append(
            f"<tr><td>{e(repo.project)}</td><td>{e(repo.repository)}</td>"
            f"<td>{e(_time(repo.last_sync_at))}</td><td>{e(result)}</td>"
            f"<td>{e(_number(repo.items))}</td></tr>"
        )
    limits = [
        f"<tr><td>{e(limit.resource)}</td><td>{e(_number(limit.remaining))}</td>"
        f"<td>{e(_number(limit.limit))}</td><td>{e(_time(limit.reset_at))}</td></tr>"
        for limit in status.rate_limits
    ]
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>healthexporter</title></head>
<body>
<h1>healthexporter</h1>
<p>Project-health metrics from GitHub. <a href="/metrics">Metrics</a></p>
<p>Version {e(status.version)}; metrics computed {e(_time(status.computed_at))}.</p>
<h2>Repositories</h2>
<table>
<tr><th>Project</th><th>Repository</th><th>Last sync</th><th>Result</th>
<th>Items (last sync)</th></tr>
{"".join(rows)}
</table>
<h2>GitHub rate limits</h2>
<table>
<tr><th>Resource</th><th>Remaining</th><th>Limit</th><th>Resets</th></tr>
{"".join(limits)}
</table>
</body>
</html>
"""
    return page.encode("utf-8")


# --- the server -----------------------------------------------------------------------------
def parse_listen_address(address: str) -> tuple[str, int]:
    """``"host:port"``, ``"[v6]:port"`` or ``":port"`` → (host, port); host "" means every
    interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f'bad listen address {address!r}: use host:port, e.g. ":9935"')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


@dataclass(frozen=True)
class _App:
    exposition: Callable[[], RenderedExposition | None]
    status: Callable[[], LandingStatus]
    ready: Callable[[], bool]
    web_config: WebConfig
    timeout: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck connection never keeps the process alive
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], family: socket.AddressFamily, app: _App, dual_stack: bool
    ) -> None:
        self.address_family = family
        self.app = app
        self._dual_stack = dual_stack
        self._ssl_context = app.web_config.ssl_context()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self._dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # HTTPServer.server_bind would look the host's name up in DNS (getfqdn): not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: the timeout and the TLS handshake too.

        The timeout set here bounds every read and write of the connection (an SSLSocket
        inherits it), so a client that stops sending is dropped after ``timeout`` seconds.
        """
        request.settimeout(self.app.timeout)
        if self._ssl_context is None:
            _Handler(request, client_address, self)
            return
        try:
            secure = self._ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            _Handler(secure, client_address, self)
        finally:
            secure.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "healthexporter"
    sys_version = ""  # no Python version in the Server header
    # Headers and body are two writes: with Nagle's algorithm the body would wait for the
    # scraper's delayed ACK on a kept-alive connection (~40 ms a scrape).
    disable_nagle_algorithm = True

    @property
    def app(self) -> _App:
        return cast(_Server, self.server).app

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # --- methods ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _not_allowed(self) -> None:
        self.close_connection = True  # the body, if any, is not read
        if not self._authorized():
            return
        if self._path() in _PATHS:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"Method not allowed\n", allow="GET, HEAD")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n")

    def do_POST(self) -> None:
        self._not_allowed()

    def do_PUT(self) -> None:
        self._not_allowed()

    def do_DELETE(self) -> None:
        self._not_allowed()

    def do_PATCH(self) -> None:
        self._not_allowed()

    def do_OPTIONS(self) -> None:
        self._not_allowed()

    # --- routing ---------------------------------------------------------------------------
    def _path(self) -> str:
        return urlsplit(self.path).path

    def _serve(self, *, head: bool) -> None:
        if self.headers.get("Content-Length", "0").strip() != "0" or self.headers.get(
            "Transfer-Encoding"
        ):
            self.close_connection = True
            self._send(HTTPStatus.BAD_REQUEST, b"A GET request has no body\n", head=head)
            return
        if not self._authorized(head=head):
            return
        path = self._path()
        if path == "/metrics":
            self._metrics(head)
        elif path == "/":
            page = landing_page(self.app.status())
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", head=head)
        elif path == "/-/healthy":
            self._send(HTTPStatus.OK, b"Healthy\n", head=head)
        elif path == "/-/ready":
            if self.app.ready():
                self._send(HTTPStatus.OK, b"Ready\n", head=head)
            else:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"Not ready\n", head=head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n", head=head)

    def _metrics(self, head: bool) -> None:
        rendered = self.app.exposition()
        if rendered is None:
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE,
                b"No metrics yet: the first computation has not finished.\n",
                head=head,
                retry_after="10",
            )
            return
        body, content_type, encoding = rendered.choose(
            self.headers.get("Accept"), self.headers.get("Accept-Encoding")
        )
        self._send(HTTPStatus.OK, body, content_type, head=head, content_encoding=encoding)

    def _authorized(self, *, head: bool = False) -> bool:
        config = self.app.web_config
        if config.check_basic_auth(self.headers.get("Authorization")):
            return True
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"Unauthorized\n",
            head=head,
            www_authenticate='Basic realm="healthexporter", charset="UTF-8"',
        )
        return False

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = _TEXT,
        *,
        head: bool = False,
        content_encoding: str | None = None,
        allow: str | None = None,
        retry_after: str | None = None,
        www_authenticate: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.OK and self._path() == "/metrics":
            self.send_header("Vary", "Accept, Accept-Encoding")
        for name, value in (
            ("Content-Encoding", content_encoding),
            ("Allow", allow),
            ("Retry-After", retry_after),
            ("WWW-Authenticate", www_authenticate),
        ):
            if value is not None:
                self.send_header(name, value)
        for name, value in self.app.web_config.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)


class WebServer:
    """Serves the exporter's HTTP endpoints from a background thread.

    ``exposition`` returns the latest rendering (None until the first computation);
    ``status`` what the landing page shows; ``ready`` whether ``/-/ready`` says so.
    """

    def __init__(
        self,
        listen_address: str,
        *,
        exposition: Callable[[], RenderedExposition | None],
        status: Callable[[], LandingStatus],
        ready: Callable[[], bool],
        web_config: WebConfig | None = None,
        timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._address = parse_listen_address(listen_address)
        self._app = _App(exposition, status, ready, web_config or WebConfig(), timeout)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        host, port = self._address
        self._server = _bind(host, port, self._app)
        # poll_interval: how soon serve_forever notices stop(); accepting is not delayed by it
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="healthexporter-web",
            daemon=True,
        )
        self._thread.start()
        log.info("listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        host = self._address[0] or "localhost"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._app.web_config.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"


def _bind(host: str, port: int, app: _App) -> _Server:
    if not host:  # every interface: IPv6 and IPv4 on one socket where the host has IPv6
        if socket.has_dualstack_ipv6():
            return _Server(("::", port), socket.AF_INET6, app, dual_stack=True)
        return _Server(("0.0.0.0", port), socket.AF_INET, app, dual_stack=False)
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return _Server((str(sockaddr[0]), port), family, app, dual_stack=False)
