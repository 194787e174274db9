"""The only module that talks HTTP to GitHub.

GitHub's rate limit is the scarce resource, so every rule GitHub documents about when to retry
and how long to wait lives here, once ("Best practices for using the REST API", "Rate limits for
the REST API", "Rate limits and query limits for the GraphQL API" on docs.github.com):

* ``Retry-After`` is honoured exactly, on 403/429 and on 5xx.
* 403/429 with ``x-ratelimit-remaining: 0`` waits until ``x-ratelimit-reset`` (+1 s).
* Any other 403/429 rate limit (a secondary limit) waits at least 60 s, then 120, 240 … with
  jitter, and gives up after ``max_retries``.
* GraphQL's primary limit is an HTTP 200 with an error of type ``RATE_LIMITED``: wait for the
  bucket's reset the same way.
* 5xx, timeouts, connection errors and malformed JSON back off 1, 2, 4 … s.
* No single wait is longer than ``max_wait_seconds``: a longer one raises ``RateLimitedError``
  carrying ``retry_at`` so a scheduler is never blocked for an hour.
* A reserve of each bucket is never spent, so a token shared with people or other tools is
  not drained by the exporter.

Everything that can go wrong leaves this module as one of ``healthexporter.errors``; the token
never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx

from healthexporter.clock import Clock, SystemClock
from healthexporter.errors import (
    ForbiddenError,
    GitHubError,
    GraphQLError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    UnauthorizedError,
)
from healthexporter.github.auth import TokenProvider, redact
from healthexporter.github.endpoints import derive_graphql_url
from healthexporter.model import RateLimitState

logger = logging.getLogger("healthexporter.github")

try:
    _VERSION = version("healthexporter")
except PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0"

DEFAULT_USER_AGENT = f"healthexporter/{_VERSION}"
DEFAULT_RESERVE: Mapping[str, int] = {"graphql": 200, "core": 200}

# "Best practices": wait at least one minute after a secondary rate limit, then back off.
SECONDARY_MIN_WAIT = 60.0
# Backoff for 5xx/timeouts/malformed bodies: 1, 2, 4 … seconds, never more than this.
TRANSIENT_BACKOFF_CAP = 60.0
# GitHub kills GraphQL queries that run over 10 s (502/504); retrying the same query more than
# twice only burns points — the caller should shrink its page instead.
QUERY_TIMEOUT_RETRIES = 2
MAX_REDIRECTS = 5
SEEN_TOKENS_KEPT = 32  # tokens remembered for redaction (rotations, hourly App tokens)
REDIRECT_STATUSES = frozenset({301, 302, 307, 308})
_RATE_LIMIT_REASONS = frozenset({"retry_after", "primary_reset", "secondary", "reserve"})


class QueryTimeoutError(TransientError):
    """GitHub answered 502/504 to a GraphQL query repeatedly: it probably ran over GitHub's
    10-second limit. Retrying with a smaller page is the cure, which only the caller can do."""

    reason = "query_timeout"


@dataclass(frozen=True, slots=True)
class GraphQLResponse:
    data: dict[str, Any]
    errors: list[dict[str, Any]]  # non-fatal errors next to data, e.g. NOT_FOUND on one field
    cost: int | None  # from data.rateLimit.cost when the query asked for it
    rate_limit: RateLimitState | None
    operation: str


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    body: Any  # parsed JSON; None on 304 and 204
    etag: str | None
    next_url: str | None  # Link rel="next"
    not_modified: bool
    url: str


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What the client has spent and waited since it was created (exported as metrics)."""

    requests: Mapping[str, int] = field(default_factory=dict)  # graphql, rest, rest_not_modified
    # (api "graphql"/"rest", result "ok"/"not_modified"/"error") → responses
    results: Mapping[tuple[str, str], int] = field(default_factory=dict)
    graphql_points: int = 0  # sum of reported query costs
    rest_charged: int = 0  # REST responses that count against the primary limit (not 304)
    retries: Mapping[str, int] = field(default_factory=dict)  # by reason
    waits: Mapping[str, int] = field(default_factory=dict)  # by reason
    wait_seconds: Mapping[str, float] = field(default_factory=dict)  # by reason


def raise_for_not_found(resp: GraphQLResponse, path: str | Sequence[str | int]) -> None:
    """Raise NotFoundError when GraphQL reported NOT_FOUND at ``path`` (or below it).

    GitHub answers a query for a missing or invisible repository with HTTP 200, ``repository:
    null`` and a NOT_FOUND error whose ``path`` is ``["repository"]``; the caller decides
    whether that field being missing means the whole thing is missing.
    """
    wanted = [path] if isinstance(path, str) else list(path)
    for error in resp.errors:
        error_path = error.get("path") or []
        if error.get("type") == "NOT_FOUND" and list(error_path[: len(wanted)]) == wanted:
            raise NotFoundError(
                f"{resp.operation}: {'.'.join(map(str, wanted))} not found: "
                f"{error.get('message', 'NOT_FOUND')}",
                status=200,
            )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _operation_name(query: str) -> str:
    """``query PullRequests(…)`` → ``PullRequests``; anonymous queries are ``anonymous``."""
    for keyword in ("query", "mutation"):
        head, sep, rest = query.strip().partition(keyword)
        if sep and not head.strip():
            name = rest.strip().split("(", 1)[0].split("{", 1)[0].strip()
            return name or "anonymous"
    return "anonymous"


class _RetryError(Exception):
    """Internal: the attempt failed in a way the rules say to retry after ``seconds``."""

    def __init__(self, reason: str, seconds: float, detail: str) -> None:
        self.reason = reason
        self.seconds = seconds
        self.detail = detail
        super().__init__(detail)


@dataclass
class _Attempts:
    """Retry bookkeeping for one logical request."""

    retries: int = 0
    secondary: int = 0
    transient: int = 0
    query_timeouts: int = 0
    query_timeout_status: int | None = None
    reauthenticated: bool = False


class GitHubClient:
    """Sync GitHub GraphQL + REST client shared by the worker threads.

    Thread-safe: the httpx client pools connections, a semaphore bounds concurrent requests
    (GitHub recommends serial requests per token), and rate-limit state and counters sit behind
    one lock.
    """

    def __init__(
        self,
        *,
        api_url: str = "https://api.github.com",
        graphql_url: str | None = None,
        tokens: TokenProvider,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        max_concurrency: int = 4,
        reserve: Mapping[str, int] | None = None,
        max_retries: int = 5,
        timeout: float = 30.0,
        max_wait_seconds: float = 900.0,
        user_agent: str = DEFAULT_USER_AGENT,
        max_response_bytes: int = 50 * 1024 * 1024,
        rng: random.Random | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url or derive_graphql_url(self.api_url)
        self._origin = _origin(self.api_url)
        self._tokens = tokens
        self._clock: Clock = clock or SystemClock()
        self._reserve = dict(DEFAULT_RESERVE if reserve is None else reserve)
        self._max_retries = max_retries
        self._max_wait = max_wait_seconds
        self._max_bytes = max_response_bytes
        self._rng = rng or random.Random()
        self._semaphore = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._limits: dict[str, RateLimitState] = {}
        self._requests: Counter[str] = Counter()
        self._results: Counter[tuple[str, str]] = Counter()
        self._graphql_points = 0
        self._rest_charged = 0
        self._retries: Counter[str] = Counter()
        self._waits: Counter[str] = Counter()
        self._wait_seconds: dict[str, float] = {}
        self._seen_tokens: dict[str, None] = {}  # recent tokens, oldest first, for redaction
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,  # redirects are followed by hand, on our origin only
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": user_agent,
            },
        )

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, tokens={self._tokens!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- public API

    def graphql(self, query: str, variables: Mapping[str, Any]) -> GraphQLResponse:
        """Run one GraphQL query, waiting out rate limits; partial errors are returned."""
        operation = _operation_name(query)
        payload = {"query": query, "variables": dict(variables)}
        attempts = _Attempts()
        while True:
            try:
                response, body = self._attempt(
                    "graphql", "POST", self.graphql_url, attempts, json_body=payload
                )
                return self._graphql_result(operation, response, body, attempts)
            except _RetryError as retry:
                pending = retry
            # Outside the except block, so a final error carries no unredacted __context__.
            self._before_retry(attempts, pending, operation)

    def rest_get(
        self,
        url_or_path: str,
        *,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> RestResponse:
        """GET one REST resource; with ``etag`` a 304 answer is a success (and free)."""
        url = self._absolute(url_or_path)
        redirects = 0
        attempts = _Attempts()
        while True:
            pending: _RetryError | None = None
            try:
                response, body = self._attempt(
                    "rest", "GET", url, attempts, params=params, etag=etag
                )
            except _RetryError as retry:
                pending = retry
            if pending is not None:
                self._before_retry(attempts, pending, url)
                continue
            if response.status_code in REDIRECT_STATUSES:
                # Renamed or transferred repositories answer 301 with the new location; the
                # token may only ever be sent to the configured origin.
                location = response.headers.get("location")
                if not location:
                    self._fail(GitHubError, f"{response.status_code} without Location for {url}")
                target = urljoin(str(response.url), location)
                if _origin(target) != self._origin:
                    self._fail(
                        GitHubError,
                        f"refusing to follow redirect from {url} to {target} off origin",
                        status=response.status_code,
                    )
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    self._fail(GitHubError, f"too many redirects from {url}")
                url, params = target, None
                continue
            not_modified = response.status_code == 304
            return RestResponse(
                status=response.status_code,
                body=None if not_modified else body,
                etag=response.headers.get("etag") or (etag if not_modified else None),
                next_url=response.links.get("next", {}).get("url"),
                not_modified=not_modified,
                url=str(response.url),
            )

    def rest_paginate(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> Iterator[RestResponse]:
        """Every page of a REST listing, following ``Link: rel="next"`` (never built by hand)."""
        page = self.rest_get(path, params=params)
        yield page
        while page.next_url:
            page = self.rest_get(page.next_url)
            yield page

    def rate_limits(self) -> dict[str, RateLimitState]:
        """The last state GitHub reported per resource (core, graphql, search, …)."""
        with self._lock:
            return dict(self._limits)

    def stats(self) -> ClientStats:
        with self._lock:
            return ClientStats(
                requests=dict(self._requests),
                results=dict(self._results),
                graphql_points=self._graphql_points,
                rest_charged=self._rest_charged,
                retries=dict(self._retries),
                waits=dict(self._waits),
                wait_seconds=dict(self._wait_seconds),
            )

    # ------------------------------------------------------------------------ one HTTP attempt

    def _attempt(
        self,
        kind: str,
        method: str,
        url: str,
        attempts: _Attempts,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> tuple[httpx.Response, Any]:
        """Send once and classify: return the answer, raise ``_RetryError``, or fail for good."""
        bucket = "graphql" if kind == "graphql" else self._rest_bucket(url)
        self._respect_reserve(bucket)
        token = self._tokens.token()
        with self._lock:
            if token not in self._seen_tokens:
                self._seen_tokens[token] = None
                while len(self._seen_tokens) > SEEN_TOKENS_KEPT:
                    del self._seen_tokens[next(iter(self._seen_tokens))]
        headers = {"Authorization": f"Bearer {token}"}
        if etag:
            headers["If-None-Match"] = etag
        request = self._http.build_request(
            method, url, params=params, headers=headers, json=json_body
        )
        with self._semaphore:
            try:
                response, raw = self._send(request)
            except httpx.TimeoutException as exc:
                self._count_request(kind, None)
                raise self._transient(attempts, "timeout", f"{type(exc).__name__}") from None
            except httpx.TransportError as exc:
                self._count_request(kind, None)
                raise self._transient(attempts, "transport", f"{type(exc).__name__}") from None
            except httpx.DecodingError:  # a garbled gzip/brotli body
                self._count_request(kind, None)
                raise self._transient(attempts, "malformed", "undecodable body") from None
        self._count_request(kind, response.status_code)
        if response.status_code != 401:
            # A 401 carries the *unauthenticated* bucket's numbers (60/h), not the token's.
            self._observe_headers(bucket, response.headers)
        return response, self._classify(kind, url, response, raw, attempts)

    def _send(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """Send and read the body, refusing bodies over ``max_response_bytes`` while streaming."""
        response = self._http.send(request, stream=True)
        try:
            declared = _int_header(response.headers, "content-length")
            if declared is not None and declared > self._max_bytes:
                self._fail(TransientError, f"response too large ({declared} bytes)")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    self._fail(TransientError, f"response too large (over {self._max_bytes} bytes)")
                chunks.append(chunk)
            return response, b"".join(chunks)
        finally:
            response.close()

    def _classify(
        self,
        kind: str,
        url: str,
        response: httpx.Response,
        raw: bytes,
        attempts: _Attempts,
    ) -> Any:
        status = response.status_code
        if status == 304 or status in REDIRECT_STATUSES or status == 204:
            return None
        if 200 <= status < 300:
            try:
                return json.loads(raw)
            except ValueError:
                # Truncated or garbled bodies happen behind proxies and on resets; the same
                # request usually succeeds.
                raise self._transient(attempts, "malformed", "malformed JSON body") from None
        message = self._error_message(raw)
        if status == 401:
            if not attempts.reauthenticated:
                attempts.reauthenticated = True
                self._tokens.invalidate()
                raise _RetryError("unauthorized", 0.0, "401, re-reading the token once")
            self._fail(
                UnauthorizedError,
                f"GitHub rejected the token (401 Bad credentials): {message}; "
                f"token source: {self._tokens!r}",
                status=status,
            )
        if status in (403, 429):
            self._rate_limit_or_forbidden(response, message, attempts)
        if status == 404:
            self._fail(NotFoundError, f"{url} not found (404): {message}", status=status)
        if status >= 500:
            retry_after = self._retry_after(response.headers)
            if kind == "graphql" and status in (502, 504):
                raise self._query_timeout(attempts, status, message)
            raise self._transient(attempts, "server_error", f"{status}: {message}", retry_after)
        self._fail(GitHubError, f"{url} answered {status}: {message}", status=status)

    def _rate_limit_or_forbidden(
        self, response: httpx.Response, message: str, attempts: _Attempts
    ) -> NoReturn:
        """Apply GitHub's order of rules to a 403/429 ("Best practices for using the REST API":
        retry-after first, then remaining 0 → reset, else ≥ 1 minute with exponential backoff).
        """
        status = response.status_code
        headers = response.headers
        now = self._clock.time()
        retry_after = self._retry_after(headers)
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _int_header(headers, "x-ratelimit-reset")
        if retry_after is not None:
            raise _RetryError(
                "retry_after", retry_after, f"{status} with Retry-After {retry_after:g}"
            )
        if remaining == 0 and reset is not None:
            raise _RetryError(
                "primary_reset", max(reset - now, 0.0) + 1.0, f"{status}, limit reached"
            )
        lowered = message.lower()
        # "You have exceeded a secondary rate limit" (older servers: "abuse detection").
        secondary = status == 429 or "rate limit" in lowered or "abuse" in lowered or remaining == 0
        if not secondary:
            self._fail(ForbiddenError, f"forbidden (403): {message}", status=status)
        raise _RetryError("secondary", self._secondary_wait(attempts), f"{status}: {message}")

    def _secondary_wait(self, attempts: _Attempts) -> float:
        base = SECONDARY_MIN_WAIT * 2.0**attempts.secondary
        attempts.secondary += 1
        # Up to 10 % jitter on top, never below the minimum: spreads worker threads apart.
        return base * (1.0 + 0.1 * self._rng.random())

    def _transient_wait(self, attempts: _Attempts) -> float:
        seconds = min(2.0**attempts.transient, TRANSIENT_BACKOFF_CAP)
        attempts.transient += 1
        return seconds

    def _transient(
        self, attempts: _Attempts, reason: str, detail: str, retry_after: float | None = None
    ) -> _RetryError:
        seconds = self._transient_wait(attempts)
        return _RetryError(reason, retry_after if retry_after is not None else seconds, detail)

    def _query_timeout(self, attempts: _Attempts, status: int, detail: str) -> _RetryError:
        """GitHub killed the query after 10 s (502/504, or a 200 saying so). Retry it at most
        twice, then let the caller shrink its page."""
        attempts.query_timeouts += 1
        attempts.query_timeout_status = status
        if attempts.query_timeouts > QUERY_TIMEOUT_RETRIES:
            self._fail(
                QueryTimeoutError,
                f"GraphQL query timed out ({status}) {attempts.query_timeouts} times: {detail}",
                status=status,
            )
        return self._transient(attempts, "query_timeout", f"{status}: {detail}")

    # ------------------------------------------------------------------------ waits and retries

    def _before_retry(self, attempts: _Attempts, retry: _RetryError, what: str) -> None:
        """Count, bound and perform the wait a ``_RetryError`` asks for."""
        rate_limited = retry.reason in _RATE_LIMIT_REASONS
        if retry.reason != "unauthorized":
            if attempts.retries >= self._max_retries:
                detail = f"{what}: giving up after {attempts.retries} retries ({retry.detail})"
                if rate_limited:
                    raise RateLimitedError(
                        self._redact(detail), retry_at=self._clock.time() + retry.seconds
                    )
                if retry.reason == "query_timeout":
                    self._fail(QueryTimeoutError, detail, status=attempts.query_timeout_status)
                self._fail(TransientError, detail)
            attempts.retries += 1
        with self._lock:
            self._retries[retry.reason] += 1
        self._wait(retry.seconds, retry.reason, f"{what}: {retry.detail}", rate_limited)

    def _wait(self, seconds: float, reason: str, detail: str, rate_limited: bool = True) -> None:
        if seconds <= 0:
            logger.info("retrying now (%s): %s", reason, self._redact(detail))
            return
        if seconds > self._max_wait:
            message = (
                f"{detail}: would wait {seconds:.0f} s, more than max_wait_seconds "
                f"({self._max_wait:.0f} s)"
            )
            if rate_limited:
                raise RateLimitedError(self._redact(message), retry_at=self._clock.time() + seconds)
            self._fail(TransientError, message)
        logger.warning("waiting %.1f s (%s): %s", seconds, reason, self._redact(detail))
        with self._lock:
            self._waits[reason] += 1
            self._wait_seconds[reason] = self._wait_seconds.get(reason, 0.0) + seconds
        self._clock.sleep(seconds)

    def _respect_reserve(self, bucket: str) -> None:
        """Never spend the last ``reserve`` units of a bucket: wait for its reset instead."""
        with self._lock:
            state = self._limits.get(bucket)
        if state is None or state.remaining is None or state.reset_at is None:
            return  # unknown is not zero: GHES without rate limiting sends no headers
        reserve = self._reserve.get(bucket, 0)
        seconds = state.reset_at.timestamp() - self._clock.time()
        if state.remaining <= reserve and seconds > 0:
            self._wait(
                seconds + 1.0,
                "reserve",
                f"{bucket} bucket at {state.remaining} (reserve {reserve})",
            )

    # ------------------------------------------------------------------ rate-limit bookkeeping

    def _observe_headers(self, bucket: str, headers: httpx.Headers) -> None:
        """Record ``x-ratelimit-*``; absent headers are recorded as unknown (None), never 0."""
        reset = _int_header(headers, "x-ratelimit-reset")
        state = RateLimitState(
            resource=headers.get("x-ratelimit-resource") or bucket,
            limit=_int_header(headers, "x-ratelimit-limit"),
            remaining=_int_header(headers, "x-ratelimit-remaining"),
            used=_int_header(headers, "x-ratelimit-used"),
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
            observed_at=self._clock.now(),
        )
        with self._lock:
            self._limits[state.resource] = state

    def _observe_graphql(self, rate_limit: Any) -> tuple[int | None, RateLimitState | None]:
        """Record ``data.rateLimit`` (the query's cost and the bucket after it)."""
        if not isinstance(rate_limit, dict):
            return None, None

        def number(name: str) -> int | None:
            value = rate_limit.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        reset_at: datetime | None = None
        if isinstance(rate_limit.get("resetAt"), str):
            try:
                reset_at = datetime.fromisoformat(rate_limit["resetAt"].replace("Z", "+00:00"))
            except ValueError:
                reset_at = None
        state = RateLimitState(
            resource="graphql",
            limit=number("limit"),
            remaining=number("remaining"),
            used=number("used"),
            reset_at=reset_at,
            observed_at=self._clock.now(),
        )
        cost = number("cost")
        with self._lock:
            self._limits["graphql"] = state
            if cost is not None:
                self._graphql_points += cost
        return cost, state

    def _count_request(self, kind: str, status: int | None) -> None:
        if status == 304:
            result = "not_modified"
        elif status is None or status >= 400:
            result = "error"
        else:
            result = "ok"
        with self._lock:
            self._results[(kind, result)] += 1
            if kind == "rest" and status == 304:
                self._requests["rest_not_modified"] += 1
            else:
                self._requests[kind] += 1
                if kind == "rest" and status is not None:
                    self._rest_charged += 1

    # -------------------------------------------------------------------------------- GraphQL

    def _graphql_result(
        self, operation: str, response: httpx.Response, body: Any, attempts: _Attempts
    ) -> GraphQLResponse:
        if not isinstance(body, dict):
            raise _RetryError(
                "malformed", self._transient_wait(attempts), "non-object GraphQL body"
            )
        raw_errors = body.get("errors") or []
        errors = (
            [e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else []
        )
        data = body.get("data")
        if any(e.get("type") == "RATE_LIMITED" for e in errors):
            # "Rate limits and query limits for the GraphQL API": the primary limit is an HTTP
            # 200 with a RATE_LIMITED error; retry after the bucket's reset.
            raise _RetryError("primary_reset", self._graphql_reset_wait(response), "RATE_LIMITED")
        if not isinstance(data, dict):
            messages = "; ".join(str(e.get("message", e)) for e in errors) or "no data"
            if "timeout" in messages.lower():
                # "Something went wrong while executing your query. This may be the result of a
                # timeout …": the same 10-second kill, reported as a 200.
                # Reported as 504, what it means, so callers shrink pages on ``status``.
                raise self._query_timeout(attempts, 504, messages)
            if errors and all(e.get("type") == "NOT_FOUND" for e in errors):
                raise NotFoundError(self._redact(f"{operation}: {messages}"), status=200)
            raise GraphQLError(self._redact(f"{operation}: {messages}"), errors=errors)
        cost, state = self._observe_graphql(data.get("rateLimit"))
        if state is None:
            state = self.rate_limits().get("graphql")
        return GraphQLResponse(
            data=data, errors=errors, cost=cost, rate_limit=state, operation=operation
        )

    def _graphql_reset_wait(self, response: httpx.Response) -> float:
        reset = _int_header(response.headers, "x-ratelimit-reset")
        if reset is None:
            state = self.rate_limits().get("graphql")
            if state is not None and state.reset_at is not None:
                reset = int(state.reset_at.timestamp())
        if reset is None:
            return SECONDARY_MIN_WAIT  # no reset known: wait the documented minimum
        return max(reset - self._clock.time(), 0.0) + 1.0

    # --------------------------------------------------------------------------------- helpers

    def _absolute(self, url_or_path: str) -> str:
        if url_or_path.startswith(("http://", "https://")):
            if _origin(url_or_path) != self._origin:
                self._fail(GitHubError, f"refusing to follow {url_or_path} off origin")
            return url_or_path
        return f"{self.api_url}/{url_or_path.lstrip('/')}"

    def _rest_bucket(self, url: str) -> str:
        path = urlsplit(url).path
        api_path = urlsplit(self.api_url).path.rstrip("/")
        return "search" if path.startswith(f"{api_path}/search/") else "core"

    @staticmethod
    def _retry_after(headers: httpx.Headers) -> float | None:
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value.strip())
        except ValueError:
            return None
        return max(seconds, 0.0)

    @staticmethod
    def _error_message(raw: bytes) -> str:
        try:
            body = json.loads(raw)
        except ValueError:
            return raw[:200].decode("utf-8", errors="replace").strip() or "(empty body)"
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])[:500]
        return "(no message)"

    def _redact(self, text: str) -> str:
        with self._lock:
            secrets = set(self._seen_tokens)
        return redact(text, secrets)

    def _fail(
        self, error: type[GitHubError], message: str, *, status: int | None = None
    ) -> NoReturn:
        raise error(self._redact(message), status=status)
