"""The simulated GitHub on a real socket: REST, GraphQL, rate limits, faults and accounting.

Built on the standard library's ``http.server.ThreadingHTTPServer`` on purpose: the faults the
exporter must survive live below HTTP — a reset connection (``SO_LINGER 0`` then close), a body
shorter than its ``Content-Length``, a request that hangs and is then dropped — and a web
framework hides the socket that those need. Each connection gets a daemon thread, speaks
HTTP/1.1 with keep-alive, and every answer carries an exact ``Content-Length``.

Requests go through, in order: latency, the fault plan (``faults.py``), authentication, the
endpoint (``rest.py`` or the GraphQL engine) with rate-limit charging, then ETag handling and
accounting. ``/_simulator/…`` (no auth, not counted) lets tests and benchmarks read and reset
the accounting, change faults and evolve the dataset while the server runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import json
import math
import re
import secrets
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from healthexporter.simulator import faults as github_faults
from healthexporter.simulator import rest, rest_shapes
from healthexporter.simulator.dataset import Dataset, format_time
from healthexporter.simulator.faults import FaultPlan, FaultRule
from healthexporter.simulator.ratelimit import Bucket, Buckets, BucketSnapshot
from healthexporter.simulator.rest import AppConfig

__all__ = ["AppConfig", "FaultPlan", "SimulatorServer"]

JSON_TYPE = "application/json; charset=utf-8"
PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    "#about-the-primary-rate-limit"
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
GRAPHQL_PATHS = ("/graphql", "/api/graphql")
REST_PREFIX = "/api/v3"
_OPERATION_NAME = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")

Kind = Literal["graphql", "rest"]


@dataclass
class _Exchange:
    """What happened to one API request, for the stats and the request log."""

    method: str
    target: str
    kind: str  # graphql, rest, rest_not_modified
    operation: str
    status: int | None = None  # None: no response (reset, dropped)
    fault: str | None = None
    points: int = 0
    core_charged: int = 0
    repository: str | None = None  # "owner/name" the request was about, when it names one
    started: float = field(default_factory=time.monotonic)
    recorded: bool = False


@dataclass
class _Answer:
    status: int
    body: bytes | None
    headers: dict[str, str]


class SimulatorServer:
    """A simulated GitHub serving ``dataset`` on ``host:port`` (0 = any free port).

    ``tokens`` None accepts any non-empty token; ``revoked_tokens`` are always refused.
    ``limits`` override the buckets' sizes per resource (``core``, ``graphql``, ``search``);
    ``primary_limit_status`` is 403 like github.com or 429. ``log_path`` appends one JSON line
    per API request. Use as a context manager or ``start()``/``stop()``.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        graphql_latency_ms: float | None = None,
        rest_latency_ms: float | None = None,
        faults: FaultPlan | str | None = None,
        limits: dict[str, int] | None = None,
        window_seconds: float = 3600,
        tokens: set[str] | None = None,
        revoked_tokens: set[str] | frozenset[str] = frozenset(),
        app: AppConfig | None = None,
        clock: Callable[[], float] = time.time,
        primary_limit_status: int = 403,
        token_logins: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.dataset = dataset
        self.host = host
        self.port = port
        self.graphql_latency = (
            latency_ms if graphql_latency_ms is None else graphql_latency_ms
        ) / 1000
        self.rest_latency = (latency_ms if rest_latency_ms is None else rest_latency_ms) / 1000
        self.limits = dict(limits or {})
        self.window_seconds = window_seconds
        self.tokens = None if tokens is None else set(tokens)
        self.revoked_tokens = set(revoked_tokens)
        self.app = app
        self.clock = clock
        self.primary_limit_status = primary_limit_status
        self.token_logins = dict(token_logins or {})
        self.buckets = Buckets(self.limits, window_seconds=window_seconds, clock=clock)
        self.rest = rest.RestApi(dataset)
        self._faults = FaultPlan.parse(faults) if isinstance(faults, str) else faults or FaultPlan()
        self._issued: dict[str, float] = {}  # app installation token -> expiry (epoch seconds)
        self._graphql: Any = None
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._operations: Counter[str] = Counter()
        self._repository_fields: Counter[str] = Counter()
        self._repository_shapes: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._repositories: Counter[str] = Counter()
        self._fault_counts: Counter[str] = Counter()
        self._points = 0
        self._core_charged = 0
        self._request_number = 0
        self._log_path = Path(log_path) if log_path is not None else None
        self._log: IO[str] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        if self._log_path is not None:
            self._log = open(self._log_path, "a", encoding="utf-8")  # noqa: SIM115  # closed in stop()
        self._httpd = _HTTPServer((self.host, self.port), _Handler, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are woken and open connections closed."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT``: REST at the root (or ``/api/v3``), GraphQL at ``/graphql``."""
        return f"http://{self.host}:{self.port}"

    # --- control ----------------------------------------------------------------------------
    def set_faults(self, plan: FaultPlan | str | None) -> None:
        """Replace the fault plan (a SPEC string is parsed); ordinals restart from 1."""
        if isinstance(plan, str):
            plan = FaultPlan.parse(plan)
        self._faults = plan or FaultPlan()

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    def revoke_token(self, token: str) -> None:
        self.revoked_tokens.add(token)

    def reset_buckets(self) -> None:
        """Refill every rate-limit bucket (a fresh window for every token)."""
        self.buckets = Buckets(self.limits, window_seconds=self.window_seconds, clock=self.clock)

    def stats(self) -> dict[str, Any]:
        """Requests by kind (``graphql``, ``rest``, ``rest_not_modified``: the REST requests
        answered 304, which GitHub does not charge), by operation (GraphQL operationName or
        ``METHOD /route/{template}``) and by status; GraphQL points and core requests charged;
        faults fired by kind and per rule of the current plan."""
        with self._lock:
            return {
                "requests": {
                    "total": sum(self._counts.values()),
                    "graphql": self._counts["graphql"],
                    "rest": self._counts["rest"],
                    "rest_not_modified": self._counts["rest_not_modified"],
                },
                "operations": dict(self._operations),
                # GraphQL: how many times each field of `repository` was asked for (a bundled
                # query asks for several: pullRequests, issues, defaultBranchRef, …)
                "repository_fields": dict(self._repository_fields),
                # …and how many queries asked each set of them ("issues+pullRequests": 3)
                "repository_shapes": dict(self._repository_shapes),
                "statuses": dict(self._statuses),
                "repositories": dict(self._repositories),  # requests per lower-cased owner/name
                "graphql_points": self._points,
                "core_charged": self._core_charged,
                "faults": dict(self._fault_counts),
                "fault_rules": self._faults.fired(),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._counts.clear()
            self._operations.clear()
            self._repository_fields.clear()
            self._repository_shapes.clear()
            self._statuses.clear()
            self._repositories.clear()
            self._fault_counts.clear()
            self._points = 0
            self._core_charged = 0

    def evolve(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``evolve.evolve`` on the dataset; ``advance`` may be given in seconds."""
        from healthexporter.simulator import evolve

        kwargs = dict(arguments)
        if isinstance(kwargs.get("advance"), int | float):
            kwargs["advance"] = timedelta(seconds=kwargs["advance"])
        with self.dataset.lock:
            summary = evolve.evolve(self.dataset, **kwargs)
        if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
            result: dict[str, Any] = dataclasses.asdict(summary)
        else:
            result = dict(vars(summary))
        decoded: dict[str, Any] = json.loads(json.dumps(result, default=_json_default))
        return decoded

    # --- one request ------------------------------------------------------------------------
    def _serve(self, handler: _Handler) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = _read_body(handler)
        if path.startswith("/_simulator/"):
            self._control(handler, method, path, body)
            return
        if method == "POST" and path in GRAPHQL_PATHS:
            self._serve_graphql(handler, body)
            return
        prefix = ""
        if path == REST_PREFIX or path.startswith(REST_PREFIX + "/"):
            prefix, path = REST_PREFIX, path[len(REST_PREFIX) :] or "/"
        self._serve_rest(handler, method, path, query, prefix)

    def _begin(
        self, handler: _Handler, kind: Kind, operation: str
    ) -> tuple[_Exchange, FaultRule | None]:
        exchange = _Exchange(handler.command, handler.path, kind, operation)
        latency = self.graphql_latency if kind == "graphql" else self.rest_latency
        if latency > 0:
            self._stopping.wait(latency)
        return exchange, self._faults.decide(kind, operation)

    def _serve_graphql(self, handler: _Handler, raw: bytes) -> None:
        try:
            document = json.loads(raw)
            if not isinstance(document, dict):
                raise ValueError("not an object")
        except ValueError:
            document = None
        operation = "(unparsed)"
        if document is not None:
            operation = document.get("operationName") or _operation_name(document.get("query"))
        exchange, fault = self._begin(handler, "graphql", operation)
        variables = (document or {}).get("variables") or {}
        if isinstance(variables, dict) and "owner" in variables and "name" in variables:
            exchange.repository = f"{variables['owner']}/{variables['name']}"
        try:
            if fault is not None and self._act_out(handler, exchange, fault):
                return
            token, denied = self._authenticate(handler, exchange)
            if denied is not None:
                self._finish(handler, exchange, denied)
                return
            bucket = self.buckets.get(token, "graphql")
            if fault is not None and fault.kind == "exhaust":
                bucket.drain()
            if document is None:
                body: dict[str, Any] = {
                    "message": "Problems parsing JSON",
                    "documentation_url": rest.DOCS,
                }
                self._finish(handler, exchange, self._json(400, body, bucket.snapshot()))
                return
            if fault is not None and fault.kind == "rate_limited":
                snapshot = dataclasses.replace(bucket.snapshot(), remaining=0)
                snapshot.used = snapshot.limit
                body = github_faults.graphql_rate_limited_body(self._user_id(token))
                self._finish(handler, exchange, self._json(200, body, snapshot))
                return
            result = self._engine().execute(document, bucket, user_id=self._user_id(token))
            exchange.points = result.cost
            exchange.operation = result.operation_name or operation
            with self._lock:
                self._repository_fields.update(result.repository_fields)
                if result.repository_fields:
                    shape = "+".join(sorted(set(result.repository_fields)))
                    self._repository_shapes[shape] += 1
            answer_body = dict(result.body)
            if fault is not None and fault.kind == "partial":
                answer_body = github_faults.partial_body(answer_body, self._request_id())
            self._finish(
                handler, exchange, self._json(result.status, answer_body, bucket.snapshot())
            )
        finally:
            self._record(exchange)

    def _serve_rest(
        self, handler: _Handler, method: str, path: str, query: dict[str, str], prefix: str
    ) -> None:
        route, params = rest.match_route(method, path)
        operation = route.name if route is not None else f"{method} (unknown)"
        exchange, fault = self._begin(handler, "rest", operation)
        if "owner" in params and "repo" in params:
            exchange.repository = f"{params['owner']}/{params['repo']}"
        try:
            if fault is not None and self._act_out(handler, exchange, fault):
                return
            host = handler.headers.get("Host") or f"{self.host}:{self.port}"
            request = rest.RestRequest(
                method=method,
                path=path,
                query=query,
                base_url=f"http://{host}{prefix}",
                html_url=f"http://{host}",
            )
            if route is not None and route.template.startswith("/app/installations/"):
                answer = self._exchange_app_token(handler, params["installation_id"])
                self._finish(handler, exchange, answer)
                return
            token, denied = self._authenticate(handler, exchange)
            if denied is not None:
                self._finish(handler, exchange, denied)
                return
            # GitHub charges the search API to its own bucket (30 a minute), everything else
            # REST to "core"
            searching = route is not None and route.template.startswith("/search/")
            core = self.buckets.get(token, "search" if searching else "core")
            if fault is not None and fault.kind == "exhaust":
                core.drain()
            if route is not None and route.template == "/rate_limit":
                snapshots = {
                    name: self.buckets.get(token, name).snapshot()
                    for name in ("core", "graphql", "search")
                }
                answer = self._json(200, rest_shapes.rate_limit_json(snapshots), snapshots["core"])
                self._finish(
                    handler, exchange, self._conditional(handler, exchange, answer, None, None)
                )
                return
            if not core.can_spend():
                self._finish(handler, exchange, self._primary_limited(core, token))
                return
            if route is None:
                response = rest.not_found()
            elif route.template == "/user":
                response = self._user(token, request)
            else:
                response = self.rest.handle(route, params, request)
            answer = self._json(response.status, response.body, None, response.headers)
            answer = self._conditional(handler, exchange, answer, core, response.last_modified)
            if answer.status != 304:
                if not core.try_charge(1):
                    self._finish(handler, exchange, self._primary_limited(core, token))
                    return
                exchange.core_charged = 1
            answer.headers.update(_rate_headers(core.snapshot()))
            self._finish(handler, exchange, answer)
        finally:
            self._record(exchange)

    # --- pieces -----------------------------------------------------------------------------
    def _engine(self) -> Any:
        if self._graphql is None:
            from healthexporter.simulator.graphql_api import GraphQLEngine

            self._graphql = GraphQLEngine(self.dataset)
        return self._graphql

    def _peek(self, handler: _Handler, kind: str) -> BucketSnapshot | None:
        """The bucket of the request's token, if it is valid, without charging it: faults
        answer with the rate-limit headers GitHub would send."""
        token = self._token_of(handler)
        if token is None or not self._token_valid(token):
            return None
        return self.buckets.get(token, "graphql" if kind == "graphql" else "core").snapshot()

    def _token_of(self, handler: _Handler) -> str | None:
        scheme, _, token = (handler.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() in ("bearer", "token") and token.strip():
            return token.strip()
        return None

    def _authenticate(self, handler: _Handler, exchange: _Exchange) -> tuple[str, _Answer | None]:
        token = self._token_of(handler)
        if token is not None and self._token_valid(token):
            return token, None
        return "", self._bad_credentials()

    def _token_valid(self, token: str) -> bool:
        if token in self.revoked_tokens:
            return False
        with self._lock:
            expires = self._issued.get(token)
        if expires is not None:
            return expires > self.clock()
        return self.tokens is None or token in self.tokens

    def _bad_credentials(self) -> _Answer:
        body = {"message": "Bad credentials", "documentation_url": rest.DOCS, "status": "401"}
        return self._json(401, body, _anonymous_snapshot(self.clock()))

    def _user_id(self, token: str) -> int:
        user = self.dataset.user(self.token_logins.get(token, ""))
        return user.database_id if user is not None else 1

    def _user(self, token: str, request: rest.RestRequest) -> rest.RestResponse:
        with self._lock:
            from_app = token in self._issued
        if from_app:
            return rest.error(403, "Resource not accessible by integration")
        login = self.token_logins.get(token, "sim-user")
        with self.dataset.lock:
            return rest.RestResponse(
                200, rest_shapes.authenticated_user_json(login, self.dataset, request)
            )

    def _primary_limited(self, core: Bucket, token: str) -> _Answer:
        snapshot = core.snapshot()
        message = (
            f"API rate limit exceeded for user ID {self._user_id(token)}. If you reach out to "
            f"GitHub Support for help, please include the request ID {self._request_id()}."
        )
        body = {"message": message, "documentation_url": PRIMARY_DOCS}
        return self._json(self.primary_limit_status, body, snapshot)

    def _exchange_app_token(self, handler: _Handler, installation: str) -> _Answer:
        now = self.clock()
        authorization = handler.headers.get("Authorization") or ""
        response, token = rest.exchange_app_token(self.app, authorization, installation, now)
        if token is not None and self.app is not None:
            with self._lock:
                self._issued[token] = now + self.app.token_lifetime_seconds
        return self._json(response.status, response.body, _anonymous_snapshot(now))

    def _conditional(
        self,
        handler: _Handler,
        exchange: _Exchange,
        answer: _Answer,
        core: Bucket | None,
        last_modified: datetime | None,
    ) -> _Answer:
        """ETag and Last-Modified on 200s of GETs; a matching ``If-None-Match`` (or, without
        it, ``If-Modified-Since``) answers 304 without a body, and GitHub does not charge it."""
        if handler.command != "GET" or answer.status != 200 or answer.body is None:
            return answer
        etag = 'W/"' + hashlib.sha256(answer.body).hexdigest() + '"'
        answer.headers["etag"] = etag
        if last_modified is not None:
            answer.headers["last-modified"] = email.utils.format_datetime(
                last_modified, usegmt=True
            )
        if_none_match = handler.headers.get("If-None-Match")
        since_text = handler.headers.get("If-Modified-Since")
        not_modified = False
        if if_none_match is not None:
            wanted = {_opaque(tag) for tag in if_none_match.split(",")}
            not_modified = "*" in wanted or _opaque(etag) in wanted
        elif since_text is not None and last_modified is not None:
            with contextlib.suppress(TypeError, ValueError):
                since = email.utils.parsedate_to_datetime(since_text)
                not_modified = last_modified.replace(microsecond=0) <= since
        if not not_modified:
            return answer
        exchange.kind = "rest_not_modified"
        headers = {
            k: v
            for k, v in answer.headers.items()
            if k in ("etag", "last-modified", "x-github-request-id")
        }
        return _Answer(304, None, headers)

    def _json(
        self,
        status: int,
        body: Any,
        snapshot: BucketSnapshot | None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        out = {"content-type": JSON_TYPE, "x-github-request-id": self._request_id()}
        out.update({"x-github-media-type": "github.v3; format=json"})
        if snapshot is not None:
            out.update(_rate_headers(snapshot))
        out.update(headers or {})
        return _Answer(status, payload, out)

    def _request_id(self) -> str:
        with self._lock:
            self._request_number += 1
            number = self._request_number
        return f"{self.port:04X}:{number:06X}:{secrets.token_hex(3).upper()}"

    # --- faults -----------------------------------------------------------------------------
    def _act_out(self, handler: _Handler, exchange: _Exchange, fault: FaultRule) -> bool:
        """Play a fault that happens before authentication; True when the request is done.
        ``exhaust``, ``partial`` and ``rate_limited`` act later, on the real answer."""
        if fault.kind in ("exhaust", "partial", "rate_limited"):
            exchange.fault = fault.kind
            return False
        exchange.fault = fault.kind
        graphql = exchange.kind == "graphql"
        if fault.kind == "timeout":
            self._stopping.wait(fault.hang_seconds)
            if fault.then == "answer" and not self._stopping.is_set():
                return False
            self._record(exchange)
            handler.close_connection = True
            return True
        if fault.kind == "reset":
            self._record(exchange)
            handler.reset()
            return True
        if fault.kind in ("500", "502", "503"):
            body = github_faults.server_error_body(int(fault.kind), graphql, self._request_id())
            answer = self._json(int(fault.kind), body, self._peek(handler, exchange.kind))
            self._finish(handler, exchange, answer)
            return True
        if fault.kind == "secondary":
            body = github_faults.secondary_limit_body(self._request_id())
            extra = {} if fault.retry_after is None else {"retry-after": str(fault.retry_after)}
            snapshot = self._peek(handler, exchange.kind)
            self._finish(handler, exchange, self._json(fault.status or 403, body, snapshot, extra))
            return True
        if fault.kind == "401":
            self._finish(handler, exchange, self._bad_credentials())
            return True
        if fault.kind == "malformed":
            answer = self._json(200, None, None)
            answer.body = github_faults.MALFORMED_BODY
            self._finish(handler, exchange, answer)
            return True
        if fault.kind == "truncate":
            answer = self._json(200, {"data": None, "message": "x" * 256}, None)
            self._finish(handler, exchange, answer, truncate=True)
            return True
        raise AssertionError(f"unhandled fault kind {fault.kind}")

    # --- the wire ---------------------------------------------------------------------------
    def _finish(
        self, handler: _Handler, exchange: _Exchange, answer: _Answer, *, truncate: bool = False
    ) -> None:
        exchange.status = answer.status
        if exchange.kind != "control":
            self._record(exchange)  # before the client can see the answer and ask for stats
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        body = answer.body
        if body is not None:
            handler.send_header("Content-Length", str(len(body)))
        elif answer.status != 304:
            handler.send_header("Content-Length", "0")
        if truncate:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if body is not None:
            handler.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            handler.close_connection = True

    def _record(self, exchange: _Exchange) -> None:
        status = "none" if exchange.status is None else str(exchange.status)
        with self._lock:
            if exchange.recorded:
                return
            exchange.recorded = True
            self._counts[exchange.kind] += 1
            self._operations[exchange.operation] += 1
            self._statuses[status] += 1
            if exchange.repository is not None:
                self._repositories[exchange.repository.lower()] += 1
            self._points += exchange.points
            self._core_charged += exchange.core_charged
            if exchange.fault is not None:
                self._fault_counts[exchange.fault] += 1
            if self._log is not None:
                line = {
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "method": exchange.method,
                    "target": exchange.target,
                    "kind": exchange.kind,
                    "operation": exchange.operation,
                    "repository": exchange.repository,
                    "status": exchange.status,
                    "fault": exchange.fault,
                    "points": exchange.points,
                    "core_charged": exchange.core_charged,
                    "ms": round((time.monotonic() - exchange.started) * 1000, 3),
                }
                self._log.write(json.dumps(line) + "\n")
                self._log.flush()

    def _control(self, handler: _Handler, method: str, path: str, raw: bytes) -> None:
        """``/_simulator/{stats,reset,faults,evolve,revoke}``: no auth, not counted."""
        try:
            arguments = json.loads(raw) if raw.strip() else {}
            if not isinstance(arguments, dict):
                raise ValueError("the body must be a JSON object")
            name = path.removeprefix("/_simulator/").rstrip("/")
            if (method, name) == ("GET", "stats"):
                body: Any = self.stats()
            elif (method, name) == ("POST", "reset"):
                if arguments.get("stats", True):
                    self.reset_stats()
                if arguments.get("buckets"):
                    self.reset_buckets()
                body = self.stats()
            elif (method, name) == ("GET", "faults"):
                body = {"spec": self._faults.spec(), "fired": self._faults.fired()}
            elif (method, name) == ("POST", "faults"):
                self.set_faults(str(arguments.get("spec") or ""))
                body = {"spec": self._faults.spec()}
            elif (method, name) == ("POST", "evolve"):
                body = self.evolve(arguments)
            elif (method, name) == ("POST", "revoke"):
                self.revoke_token(str(arguments["token"]))
                body = {"revoked": True}
            else:
                self._finish(
                    handler,
                    _Exchange(method, path, "control", name),
                    self._json(404, {"message": "Not Found"}, None),
                )
                return
            status = 200
        except (ValueError, TypeError, KeyError) as problem:
            status, body = 400, {"message": f"{type(problem).__name__}: {problem}"}
        self._finish(
            handler, _Exchange(method, path, "control", path), self._json(status, body, None)
        )


def _read_body(handler: _Handler) -> bytes:
    """The whole request body (Content-Length or chunked), so keep-alive stays in step."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _operation_name(query: object) -> str:
    if isinstance(query, str):
        found = _OPERATION_NAME.search(query)
        if found:
            return found.group(1)
    return "(anonymous)"


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _rate_headers(snapshot: BucketSnapshot) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(snapshot.limit),
        "x-ratelimit-remaining": str(snapshot.remaining),
        "x-ratelimit-used": str(snapshot.used),
        "x-ratelimit-reset": str(snapshot.reset_at),
        "x-ratelimit-resource": snapshot.resource,
    }


def _anonymous_snapshot(now: float) -> BucketSnapshot:
    """Unauthenticated answers carry the 60-an-hour IP limit's headers, as on github.com."""
    return BucketSnapshot("core", 60, 60, 0, math.ceil(now + 3600))


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if not isinstance(value, tuple) else list(value)
    return str(value)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], simulator: SimulatorServer
    ) -> None:
        self.simulator = simulator
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "github.com"
    sys_version = ""
    # Headers and body go out as two writes; without TCP_NODELAY the body waits for the
    # client's delayed ACK on a kept-alive connection (~40 ms a request).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.simulator._lock:
            self.server.simulator._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.simulator._lock:
                self.server.simulator._connections.discard(self.connection)

    def _dispatch(self) -> None:
        try:
            self.server.simulator._serve(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True

    def do_GET(self) -> None:  # http.server's naming
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def reset(self) -> None:
        """Abort the connection: with SO_LINGER 0, close sends RST instead of FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference so close() really closes the socket
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # stdlib's parameter name
        """Quiet: the accounting and the optional JSON-lines log record requests."""
