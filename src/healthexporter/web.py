"""The HTTP server: ``/metrics``, a landing page, ``/-/healthy`` and ``/-/ready``.

A thin shell, as client_python's handler is: ``/metrics`` picks one of the byte strings the
collector rendered after the last sync (``RenderedExposition.choose``), so a request does no
work but copy bytes. That is why no framework is used: parsing a request line and a few headers
and writing bytes back is all there is, and the standard library does it.

We serve from one asyncio event loop (in one background thread) rather than the standard
library's ``ThreadingHTTPServer``, because: with a thread per connection, 32 scrapers are 32
threads taking turns on one GIL, not in arrival order, and the p99 of ``/metrics`` at 10k
series was ~15-17 ms against a 5 ms target (docs/benchmarks.md, "Scrape"); an event loop
serving the same bytes measured 1.05 ms (46.8k scrapes a second) in the same run, and this
server, with all its checks, 1.5-2.9 ms (28-30k a second) in two runs. What it still must get
right, it does here:

- a read timeout on each connection (``timeout``, 10 s) for the request head, the next
  request of a kept-alive connection, and writes: a slow or stuck client holds only its own
  task, never the accept loop or other scrapes; TLS handshakes happen on the loop with the same
  timeout, so they do not block either;
- http.server's limits: a request line over 64 KiB gets 414, a header line over 64 KiB or
  more than 100 headers 431; a GET or HEAD with a body is refused (400), other methods get
  405 on known paths;
- TLS and basic auth from the exporter-toolkit web config (``web_config``); basic auth guards
  every path, as in node_exporter. Whatever may be slow runs in a small thread pool, never on
  the loop: the bcrypt check (its cache makes repeats cheap, a miss costs a full bcrypt) and
  the landing page's ``status()`` (it may read the store).
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http import HTTPStatus
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
_MAX_LINE = 65536  # http.server's _MAXLINE
_MAX_HEADERS = 100  # http.server's _MAXHEADERS


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


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names; the first of repeated headers, as http.server

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def keep_alive(self) -> bool:
        """RFC 9112 §9.3: HTTP/1.1 keeps the connection unless told ``close``; 1.0 the reverse."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens


@dataclass(frozen=True, slots=True)
class _Response:
    status: HTTPStatus
    body: bytes
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # the connection ends after this answer


class _RequestError(Exception):
    """A request the server answers with an error and a closed connection."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.response = _Response(status, f"{message}\n".encode(), close=True)


_REFUSED_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH", "OPTIONS"})  # 405 or 404
_UNAUTHORIZED = (("WWW-Authenticate", 'Basic realm="healthexporter", charset="UTF-8"'),)
_VARY = (("Vary", "Accept, Accept-Encoding"),)
_NEGOTIATED = 64  # distinct (Accept, Accept-Encoding) pairs remembered
_JOIN_BELOW = 1 << 20  # bodies up to 1 MiB are copied behind the headers: one write


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The request line and headers, or None when the client closed the connection.

    The limits are http.server's (``_MAXLINE``, ``_MAXHEADERS``): the reader's limit is
    ``_MAX_LINE - 1`` because ``readuntil`` counts up to the separator, not past it.
    """
    try:
        raw_line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise _RequestError(HTTPStatus.REQUEST_URI_TOO_LONG, "Request line too long") from None
    words = raw_line.decode("latin-1").split()
    if not words:
        return None
    if len(words) != 3:
        raise _RequestError(HTTPStatus.BAD_REQUEST, "Bad request line")
    method, target, version = words
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        major = version.removeprefix("HTTP/").partition(".")[0]
        if version.startswith("HTTP/") and major.isdigit() and int(major) >= 2:
            raise _RequestError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP/1.1 only")
        raise _RequestError(HTTPStatus.BAD_REQUEST, "Bad request version")
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS + 1):
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            raise _RequestError(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Header line too long"
            ) from None
        if line in (b"\r\n", b"\n"):
            return _Request(method, target, version, headers)
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    raise _RequestError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    """The ``Date`` header (RFC 9110 §6.6.1), formatted once a second."""
    return formatdate(second, usegmt=True)


class _Service:
    """The HTTP side: one task per connection on the server's event loop."""

    def __init__(self, app: _App, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor
        self.connections: set[asyncio.Task[None]] = set()
        # /metrics answers of the latest rendering, by (Accept, Accept-Encoding)
        self._answers_for: RenderedExposition | None = None
        self._answers: dict[tuple[str | None, str | None], _Response] = {}
        self._configured_headers = "".join(
            f"{name}: {value}\r\n" for name, value in app.web_config.headers.items()
        )

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        peer = writer.get_extra_info("peername")
        timeout = self.app.timeout
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # A large body is a second write: with Nagle's algorithm it would wait for the
                # scraper's delayed ACK on a kept-alive connection (~40 ms a scrape).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        request = await _read_request(reader)
                except _RequestError as refused:
                    log.debug("%s refused: %s", peer, refused)
                    self._write(writer, refused.response, head=False)
                    break
                if request is None:
                    break
                try:
                    response = await self._respond(request)
                except Exception:
                    log.warning("%s %s failed", request.method, request.target, exc_info=True)
                    response = _Response(HTTPStatus.INTERNAL_SERVER_ERROR, b"Error\n", close=True)
                log.debug("%s %s %s %d", peer, request.method, request.target, response.status)
                close = response.close or not request.keep_alive
                self._write(writer, response, head=request.method == "HEAD", close=close)
                if writer.transport.get_write_buffer_size():
                    async with asyncio.timeout(timeout):
                        await writer.drain()
                if close:
                    break
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.debug("connection from %s: %r", peer, exc)
            writer.transport.abort()
        except asyncio.CancelledError:
            # stop(): the task ends normally, since Python 3.11's streams log a cancelled
            # connection task as an "Exception in callback".
            writer.transport.abort()
        finally:
            self.connections.discard(task)
            await _close(writer, timeout)

    def _write(
        self, writer: asyncio.StreamWriter, response: _Response, *, head: bool, close: bool = True
    ) -> None:
        status = response.status
        lines = [
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            f"Server: healthexporter\r\nDate: {_http_date(int(time.time()))}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
        ]
        lines.extend(f"{name}: {value}\r\n" for name, value in response.headers)
        lines.append(self._configured_headers)
        if close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        header = "".join(lines).encode("latin-1")
        if head:
            writer.write(header)
        elif len(response.body) <= _JOIN_BELOW:
            writer.write(header + response.body)  # one send, one segment to start with
        else:
            writer.write(header)
            writer.write(response.body)

    async def _respond(self, request: _Request) -> _Response:
        method, path = request.method, request.path
        if method not in ("GET", "HEAD"):
            if method not in _REFUSED_METHODS:
                return _Response(HTTPStatus.NOT_IMPLEMENTED, b"Unsupported method\n", close=True)
            # the body, if any, is not read: the connection ends with the answer
            if not await self._authorized(request):
                return _Response(
                    HTTPStatus.UNAUTHORIZED, b"Unauthorized\n", headers=_UNAUTHORIZED, close=True
                )
            if path in _PATHS:
                return _Response(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    b"Method not allowed\n",
                    headers=(("Allow", "GET, HEAD"),),
                    close=True,
                )
            return _Response(HTTPStatus.NOT_FOUND, b"Not found\n", close=True)
        headers = request.headers
        if headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers:
            return _Response(HTTPStatus.BAD_REQUEST, b"A GET request has no body\n", close=True)
        if not await self._authorized(request):
            return _Response(HTTPStatus.UNAUTHORIZED, b"Unauthorized\n", headers=_UNAUTHORIZED)
        if path == "/metrics":
            return self._metrics(request)
        if path == "/":
            loop = asyncio.get_running_loop()
            page = await loop.run_in_executor(self.executor, self._landing_page)
            return _Response(HTTPStatus.OK, page, "text/html; charset=utf-8")
        if path == "/-/healthy":
            return _Response(HTTPStatus.OK, b"Healthy\n")
        if path == "/-/ready":
            if self.app.ready():
                return _Response(HTTPStatus.OK, b"Ready\n")
            return _Response(HTTPStatus.SERVICE_UNAVAILABLE, b"Not ready\n")
        return _Response(HTTPStatus.NOT_FOUND, b"Not found\n")

    def _metrics(self, request: _Request) -> _Response:
        rendered = self.app.exposition()
        if rendered is None:
            return _Response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                b"No metrics yet: the first computation has not finished.\n",
                headers=(("Retry-After", "10"),),
            )
        if rendered is not self._answers_for:  # a new rendering: new bytes
            self._answers_for, self._answers = rendered, {}
        key = (request.headers.get("accept"), request.headers.get("accept-encoding"))
        response = self._answers.get(key)
        if response is None:
            # Scrapers send the same two headers every time: negotiate once for each pair.
            body, content_type, encoding = rendered.choose(*key)
            headers = _VARY if encoding is None else (*_VARY, ("Content-Encoding", encoding))
            response = _Response(HTTPStatus.OK, body, content_type, headers)
            if len(self._answers) >= _NEGOTIATED:
                self._answers.clear()
            self._answers[key] = response
        return response

    def _landing_page(self) -> bytes:
        return landing_page(self.app.status())

    async def _authorized(self, request: _Request) -> bool:
        config = self.app.web_config
        if not config.auth_required:
            return True
        # A cache miss costs a full bcrypt check (a few hundred ms at cost 12): off the loop.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, config.check_basic_auth, request.headers.get("authorization")
        )


async def _close(writer: asyncio.StreamWriter, timeout: float) -> None:
    """Close once what is written is sent, but give a client that does not read ``timeout``."""
    writer.close()
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


class WebServer:
    """Serves the exporter's HTTP endpoints from an event loop in a background thread.

    ``exposition`` returns the latest rendering (None until the first computation);
    ``status`` what the landing page shows; ``ready`` whether ``/-/ready`` says so.
    ``exposition`` and ``ready`` are called on the loop and must be quick (a read of the
    latest value); ``status`` runs in a worker thread.
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
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> WebServer:
        """Bind (errors such as a port in use are raised here), then serve in the background.

        Starting a started server does nothing, so ``with WebServer(...).start()`` works.
        """
        if self._thread is not None:
            return self
        host, port = self._address
        listener = _bind(host, port)
        started: Future[asyncio.Event] = Future()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._run, args=(loop, listener, started), name="healthexporter-web", daemon=True
        )
        try:
            thread.start()
            self._stopping = started.result()
        except BaseException:
            listener.close()
            thread.join()
            raise
        self._port = int(listener.getsockname()[1])
        self._loop, self._thread = loop, thread
        log.info("listening on %s", self.url)
        return self

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: socket.socket,
        started: Future[asyncio.Event],
    ) -> None:
        try:
            loop.run_until_complete(self._serve(listener, started))
        finally:
            loop.close()

    async def _serve(self, listener: socket.socket, started: Future[asyncio.Event]) -> None:
        timeout = self._app.timeout
        tls = self._app.web_config.tls is not None
        executor = ThreadPoolExecutor(4, thread_name_prefix="healthexporter-web-worker")
        service = _Service(self._app, executor)
        try:
            try:
                server = await asyncio.start_server(
                    service.connection,
                    sock=listener,
                    limit=_MAX_LINE - 1,
                    ssl=self._app.web_config.ssl_context(),
                    ssl_handshake_timeout=timeout if tls else None,
                    ssl_shutdown_timeout=timeout if tls else None,
                )
            except BaseException as exc:
                started.set_exception(exc)
                return
            stopping = asyncio.Event()
            started.set_result(stopping)
            await stopping.wait()
            server.close()
            for task in list(service.connections):
                task.cancel()
            await asyncio.gather(*service.connections, return_exceptions=True)
            await server.wait_closed()
        finally:
            # not waiting: a landing page stuck in the store must not hold up stop()
            executor.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None and thread is not None:
            loop.call_soon_threadsafe(stopping.set)
            thread.join()
        self._loop = self._stopping = self._thread = None
        self._port = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        host = self._address[0] or "localhost"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._app.web_config.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket; host "" is every interface: IPv6 and IPv4 on one socket where the
    host has IPv6."""
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.create_server(
                ("::", port), family=socket.AF_INET6, backlog=128, dualstack_ipv6=True
            )
        return socket.create_server(("0.0.0.0", port), backlog=128)
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server((str(sockaddr[0]), port), family=family, backlog=128)
