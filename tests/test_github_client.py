"""GitHubClient against scripted GitHub answers (httpx.MockTransport) and a FakeClock, so every
retry rule is checked by the exact waits it asks for, without sleeping."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from healthexporter.clock import FakeClock
from healthexporter.errors import (
    ForbiddenError,
    GitHubError,
    GraphQLError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    UnauthorizedError,
)
from healthexporter.github.auth import StaticToken
from healthexporter.github.client import (
    GitHubClient,
    QueryTimeoutError,
    derive_graphql_url,
    raise_for_not_found,
)

API = "https://api.github.com"
NOW = 1_800_000_000  # FakeClock's default start
QUERY = "query Repository($owner: String!) { repository(owner: $owner) { id } }"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A plain ``Request -> Response`` handler answering from a list, recording requests."""

    def __init__(self, *answers: Answer, repeat_last: bool = False) -> None:
        self.answers = list(answers)
        self.repeat_last = repeat_last
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[0] if self.repeat_last and len(self.answers) == 1 else None
        if answer is None:
            answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return fresh(answer)
        return answer(request)


def fresh(response: httpx.Response) -> httpx.Response:
    """A new Response per request: httpx responses are single-use streams."""
    try:
        content = response.content
    except httpx.ResponseNotRead:  # a streaming body, used once
        return response
    return httpx.Response(response.status_code, headers=response.headers, content=content)


class CountingToken(StaticToken):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.invalidations = 0

    def invalidate(self) -> None:
        self.invalidations += 1


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock | None = None,
    token: str = "ghp_test",
    **options: Any,
) -> GitHubClient:
    return GitHubClient(
        tokens=options.pop("tokens", None) or StaticToken(token),
        clock=clock or FakeClock(),
        transport=httpx.MockTransport(handler),
        **options,
    )


def ok(body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if body is None else body, headers=headers)


def limits(remaining: int, reset: int, resource: str = "core", limit: int = 5000) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(limit - remaining),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": resource,
    }


SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}


# ------------------------------------------------------------------------------ retry rules


@pytest.mark.parametrize(
    ("answers", "expected_sleeps"),
    [
        pytest.param(
            [httpx.Response(403, headers={"retry-after": "7"}, json=SECONDARY)],
            [7.0],
            id="403-retry-after-exact",
        ),
        pytest.param(
            [httpx.Response(429, headers={"retry-after": "3"})], [3.0], id="429-retry-after"
        ),
        pytest.param(
            [httpx.Response(403, headers=limits(0, NOW + 120), json={"message": "API rate limit"})],
            [121.0],
            id="403-primary-reset-plus-1",
        ),
        pytest.param(
            [httpx.Response(429, headers=limits(0, NOW + 30))], [31.0], id="429-primary-reset"
        ),
        pytest.param(
            [httpx.Response(403, headers={**limits(4000, NOW + 30), "retry-after": "5"})],
            [5.0],
            id="retry-after-wins-over-secondary-backoff",
        ),
        pytest.param(
            # Retry-After is honoured; then the exhausted bucket still holds the retry until
            # its reset, as for any request.
            [httpx.Response(403, headers={**limits(0, NOW + 30), "retry-after": "5"})],
            [5.0, 26.0],
            id="retry-after-then-bucket-reset",
        ),
        pytest.param(
            [httpx.Response(500), httpx.Response(502), httpx.Response(503)],
            [1.0, 2.0, 4.0],
            id="5xx-exponential",
        ),
        pytest.param(
            [httpx.Response(503, headers={"retry-after": "10"})], [10.0], id="503-retry-after"
        ),
        pytest.param(
            [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")],
            [1.0, 2.0],
            id="timeout-and-connection-error",
        ),
        pytest.param([httpx.Response(200, content=b'{"truncated": ')], [1.0], id="truncated-json"),
        pytest.param(
            [httpx.Response(200, content=b"<html>proxy error</html>")], [1.0], id="not-json"
        ),
        pytest.param(
            [httpx.RemoteProtocolError("peer closed connection without sending complete body")],
            [1.0],
            id="incomplete-body",
        ),
        pytest.param(
            [
                lambda _: httpx.Response(
                    200, stream=httpx.ByteStream(b"not gzip"), headers={"content-encoding": "gzip"}
                )
            ],
            [1.0],
            id="undecodable-gzip",
        ),
    ],
)
def test_rest_retry_rules_wait_exactly(answers: list[Answer], expected_sleeps: list[float]) -> None:
    clock = FakeClock()
    script = Script(*answers, ok())
    client = make_client(script, clock)

    response = client.rest_get("/repos/o/r")

    assert response.body == {"ok": True}
    assert clock.sleeps == expected_sleeps
    assert len(script.requests) == len(answers) + 1


def test_secondary_limit_waits_at_least_a_minute_then_doubles_with_jitter() -> None:
    clock = FakeClock()
    secondary = httpx.Response(403, headers=limits(4000, NOW + 3000), json=SECONDARY)
    client = make_client(Script(secondary, secondary, secondary, ok()), clock)

    client.rest_get("/repos/o/r")

    assert len(clock.sleeps) == 3
    for wait, base in zip(clock.sleeps, [60.0, 120.0, 240.0], strict=True):
        assert base <= wait <= base * 1.1


def test_429_without_any_header_is_a_secondary_limit() -> None:
    clock = FakeClock()
    client = make_client(Script(httpx.Response(429), ok()), clock)
    client.rest_get("/x")
    assert 60.0 <= clock.sleeps[0] <= 66.0


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        pytest.param(httpx.Response(500), TransientError, "server_error", id="5xx"),
        pytest.param(httpx.ReadTimeout("slow"), TransientError, "timeout", id="timeout"),
        pytest.param(httpx.Response(200, content=b"{"), TransientError, "malformed", id="json"),
        pytest.param(httpx.Response(429), RateLimitedError, "secondary", id="secondary"),
    ],
)
def test_retries_are_bounded_then_the_right_error(
    answer: Answer, error: type[Exception], reason: str
) -> None:
    clock = FakeClock()
    script = Script(answer, repeat_last=True)
    client = make_client(script, clock, max_retries=3, max_wait_seconds=10_000)

    with pytest.raises(error) as raised:
        client.rest_get("/repos/o/r")

    assert type(raised.value) is error
    assert len(script.requests) == 4
    assert len(clock.sleeps) == 3
    assert client.stats().retries == {reason: 3}
    if error is TransientError:
        assert clock.sleeps == [1.0, 2.0, 4.0]
    if isinstance(raised.value, RateLimitedError):
        assert raised.value.retry_at is not None and raised.value.retry_at > clock.time()


def test_transient_backoff_is_capped() -> None:
    clock = FakeClock()
    client = make_client(Script(httpx.Response(500), repeat_last=True), clock, max_retries=8)
    with pytest.raises(TransientError):
        client.rest_get("/x")
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(httpx.Response(403, headers=limits(0, NOW + 3600)), id="reset-in-an-hour"),
        pytest.param(httpx.Response(429, headers={"retry-after": "3600"}), id="retry-after-hour"),
    ],
)
def test_wait_longer_than_max_wait_raises_at_once_with_retry_at(answer: httpx.Response) -> None:
    clock = FakeClock()
    client = make_client(Script(answer), clock, max_wait_seconds=900)

    with pytest.raises(RateLimitedError) as raised:
        client.rest_get("/repos/o/r")

    assert clock.sleeps == []
    assert raised.value.retry_at is not None
    assert raised.value.retry_at >= NOW + 3600


def test_401_invalidates_the_token_once_and_retries_once() -> None:
    tokens = CountingToken("ghp_first")
    script = Script(httpx.Response(401, json={"message": "Bad credentials"}), ok())
    clock = FakeClock()
    client = make_client(script, clock, tokens=tokens)

    assert client.rest_get("/user").status == 200
    assert tokens.invalidations == 1
    assert clock.sleeps == []


def test_401_twice_is_unauthorized_naming_the_source() -> None:
    tokens = CountingToken("ghp_first")
    script = Script(httpx.Response(401, json={"message": "Bad credentials"}), repeat_last=True)
    client = make_client(script, tokens=tokens)

    with pytest.raises(UnauthorizedError) as raised:
        client.rest_get("/user")

    assert "GitHub rejected the token (401 Bad credentials)" in str(raised.value)
    assert "StaticToken" in str(raised.value)
    assert tokens.invalidations == 1
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param(
            httpx.Response(403, headers=limits(4000, NOW + 60), json={"message": "SAML"}),
            ForbiddenError,
            id="403-forbidden",
        ),
        pytest.param(httpx.Response(404, json={"message": "Not Found"}), NotFoundError, id="404"),
        pytest.param(httpx.Response(422, json={"message": "Validation"}), GitHubError, id="422"),
    ],
)
def test_non_retryable_answers_raise_at_once(
    answer: httpx.Response, error: type[Exception]
) -> None:
    clock = FakeClock()
    script = Script(answer)
    client = make_client(script, clock)

    with pytest.raises(error) as raised:
        client.rest_get("/repos/o/r")

    assert type(raised.value) is error
    assert clock.sleeps == []
    assert len(script.requests) == 1


# --------------------------------------------------------------------- conditional + paging


def test_conditional_request_304_is_a_free_success() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"abc"':
            return httpx.Response(304, headers={"etag": '"abc"', **limits(4999, NOW + 60)})
        return httpx.Response(200, json=[{"number": 1}], headers={"etag": '"abc"'})

    client = make_client(handler)

    first = client.rest_get("/repos/o/r/issues", params={"per_page": "1"})
    again = client.rest_get("/repos/o/r/issues", params={"per_page": "1"}, etag=first.etag)

    assert first.body == [{"number": 1}] and first.etag == '"abc"' and not first.not_modified
    assert again.not_modified and again.status == 304 and again.body is None
    assert again.etag == '"abc"'
    stats = client.stats()
    assert stats.requests == {"rest": 1, "rest_not_modified": 1}
    assert stats.rest_charged == 1


def test_paginate_follows_link_next() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {}
        if page < 3:
            headers["link"] = (
                f'<{API}/repos/o/r/releases?per_page=2&page={page + 1}>; rel="next", '
                f'<{API}/repos/o/r/releases?per_page=2&page=3>; rel="last"'
            )
        return httpx.Response(200, json=[page], headers=headers)

    client = make_client(handler)
    pages = list(client.rest_paginate("/repos/o/r/releases", {"per_page": "2"}))

    assert [p.body for p in pages] == [[1], [2], [3]]
    assert pages[0].next_url == f"{API}/repos/o/r/releases?per_page=2&page=2"
    assert pages[-1].next_url is None


def test_paginate_refuses_a_next_link_off_origin() -> None:
    script = Script(
        httpx.Response(
            200, json=[1], headers={"link": '<https://evil.example/x?page=2>; rel="next"'}
        )
    )
    client = make_client(script)
    pages: Iterator[Any] = client.rest_paginate("/repos/o/r/releases")

    assert next(pages).body == [1]
    with pytest.raises(GitHubError, match=r"refusing to follow .* off origin"):
        next(pages)
    assert [r.url.host for r in script.requests] == ["api.github.com"]


@pytest.mark.parametrize(
    "location",
    [f"{API}/repositories/42", "/repositories/42"],
    ids=["absolute", "relative"],
)
def test_redirect_on_origin_is_followed(location: str) -> None:
    script = Script(httpx.Response(301, headers={"location": location}), ok({"id": 42}))
    client = make_client(script)

    response = client.rest_get("/repos/old/name")

    assert response.body == {"id": 42}
    assert response.url == f"{API}/repositories/42"
    assert script.requests[1].headers["authorization"] == "Bearer ghp_test"


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirect_off_origin_is_refused(status: int) -> None:
    script = Script(httpx.Response(status, headers={"location": "https://elsewhere.example/r"}))
    client = make_client(script)

    with pytest.raises(GitHubError, match="off origin"):
        client.rest_get("/repos/old/name")
    assert len(script.requests) == 1


def test_absolute_url_off_origin_is_refused_before_sending() -> None:
    script = Script(ok())
    client = make_client(script)
    with pytest.raises(GitHubError, match="off origin"):
        client.rest_get("https://evil.example/repos/o/r")
    assert script.requests == []


# ------------------------------------------------------------------------ reserve + limits


def test_reserve_waits_for_reset_before_spending_it() -> None:
    clock = FakeClock()
    script = Script(ok(**limits(150, NOW + 100)), ok(**limits(4999, NOW + 3700)))
    client = make_client(script, clock, reserve={"core": 200})

    client.rest_get("/a")
    assert clock.sleeps == []
    client.rest_get("/b")

    assert clock.sleeps == [101.0]
    assert client.stats().waits == {"reserve": 1}


def test_reserve_below_remaining_does_not_wait() -> None:
    clock = FakeClock()
    client = make_client(
        Script(ok(**limits(150, NOW + 100)), ok()), clock, reserve={"core": 100, "graphql": 100}
    )
    client.rest_get("/a")
    client.rest_get("/b")
    assert clock.sleeps == []


def test_reserve_wait_beyond_max_wait_raises_without_a_request() -> None:
    clock = FakeClock()
    script = Script(ok(**limits(10, NOW + 3000)))
    client = make_client(script, clock, max_wait_seconds=900)
    client.rest_get("/a")

    with pytest.raises(RateLimitedError) as raised:
        client.rest_get("/b")

    assert raised.value.retry_at == NOW + 3001
    assert len(script.requests) == 1


def test_reserve_applies_per_bucket() -> None:
    clock = FakeClock()
    script = Script(ok(**limits(10, NOW + 100, resource="search")), ok(), ok())
    client = make_client(script, clock)
    client.rest_get("/search/issues", params={"q": "x"})
    client.rest_get("/repos/o/r")  # the core bucket is unknown, not low: no wait
    assert clock.sleeps == []
    client.rest_get("/search/issues", params={"q": "y"})  # search has no reserve configured
    assert clock.sleeps == []


def test_exhausted_bucket_waits_even_without_a_reserve() -> None:
    clock = FakeClock()
    script = Script(ok(**limits(0, NOW + 40, resource="search")), ok())
    client = make_client(script, clock)
    client.rest_get("/search/issues", params={"q": "x"})
    client.rest_get("/search/issues", params={"q": "y"})
    assert clock.sleeps == [41.0]


def test_rate_limits_from_headers() -> None:
    client = make_client(Script(ok(**limits(4321, NOW + 600, resource="core"))))
    client.rest_get("/repos/o/r")
    core = client.rate_limits()["core"]
    assert (core.limit, core.remaining, core.used) == (5000, 4321, 679)
    assert core.reset_at is not None and core.reset_at.timestamp() == NOW + 600


def test_missing_rate_headers_are_unknown_not_zero() -> None:
    # GitHub Enterprise Server with rate limiting switched off sends no x-ratelimit-* headers.
    clock = FakeClock()
    client = make_client(Script(ok(), ok()), clock, api_url="https://ghe.example/api/v3")
    client.rest_get("/repos/o/r")
    core = client.rate_limits()["core"]
    assert (core.limit, core.remaining, core.used, core.reset_at) == (None, None, None, None)
    client.rest_get("/repos/o/r")
    assert clock.sleeps == []


# ---------------------------------------------------------------------------------- GraphQL


def graphql_ok(data: dict[str, Any], errors: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"data": data}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(200, json=body, headers=limits(4000, NOW + 900, resource="graphql"))


RATE_LIMIT_DATA = {
    "cost": 3,
    "limit": 5000,
    "remaining": 4200,
    "used": 800,
    "resetAt": "2027-01-15T08:30:00Z",
    "nodeCount": 300,
}


@pytest.mark.parametrize(
    ("api_url", "graphql_url", "expected"),
    [
        (API, None, "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", None, "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", None, "https://ghe.example.com/api/graphql"),
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080/graphql"),
        (API, "https://proxy.example/gql", "https://proxy.example/gql"),
    ],
)
def test_graphql_url_derivation(api_url: str, graphql_url: str | None, expected: str) -> None:
    client = make_client(Script(), api_url=api_url, graphql_url=graphql_url)
    assert client.graphql_url == expected
    if graphql_url is None:
        assert derive_graphql_url(api_url) == expected


def test_graphql_success_records_cost_and_bucket() -> None:
    script = Script(graphql_ok({"repository": {"id": "R1"}, "rateLimit": RATE_LIMIT_DATA}))
    client = make_client(script)

    response = client.graphql(QUERY, {"owner": "o"})

    assert response.data["repository"] == {"id": "R1"}
    assert response.errors == [] and response.cost == 3 and response.operation == "Repository"
    assert response.rate_limit is not None and response.rate_limit.remaining == 4200
    assert client.rate_limits()["graphql"].remaining == 4200
    assert client.stats().graphql_points == 3
    assert client.stats().requests == {"graphql": 1}
    sent = json.loads(script.requests[0].content)
    assert sent == {"query": QUERY, "variables": {"owner": "o"}}
    assert str(script.requests[0].url) == "https://api.github.com/graphql"


def test_graphql_rate_limited_waits_for_reset_then_retries() -> None:
    clock = FakeClock()
    limited = httpx.Response(
        200,
        json={"data": None, "errors": [{"type": "RATE_LIMITED", "message": "API rate limit"}]},
        headers=limits(0, NOW + 50, resource="graphql"),
    )
    client = make_client(Script(limited, graphql_ok({"viewer": {"login": "me"}})), clock)

    response = client.graphql(QUERY, {})

    assert response.data == {"viewer": {"login": "me"}}
    assert clock.sleeps == [51.0]
    assert client.stats().waits == {"primary_reset": 1}


def test_graphql_rate_limited_beyond_max_wait_raises() -> None:
    clock = FakeClock()
    limited = httpx.Response(
        200,
        json={"errors": [{"type": "RATE_LIMITED", "message": "API rate limit"}]},
        headers=limits(0, NOW + 2000, resource="graphql"),
    )
    client = make_client(Script(limited), clock)
    with pytest.raises(RateLimitedError) as raised:
        client.graphql(QUERY, {})
    assert raised.value.retry_at == NOW + 2001
    assert clock.sleeps == []


def test_graphql_partial_not_found_is_returned_for_the_caller() -> None:
    errors = [
        {
            "type": "NOT_FOUND",
            "path": ["repository"],
            "message": "Could not resolve to a Repository with the name 'o/gone'.",
        }
    ]
    client = make_client(
        Script(graphql_ok({"repository": None, "rateLimit": RATE_LIMIT_DATA}, errors))
    )

    response = client.graphql(QUERY, {"owner": "o"})

    assert response.errors == errors
    assert response.data["repository"] is None
    raise_for_not_found(response, "viewer")  # another path: nothing to raise
    with pytest.raises(NotFoundError, match="repository not found"):
        raise_for_not_found(response, "repository")


def test_graphql_errors_without_data_raise_graphql_error() -> None:
    errors = [{"message": "Field 'nope' doesn't exist on type 'Query'"}]
    client = make_client(Script(httpx.Response(200, json={"errors": errors})))
    with pytest.raises(GraphQLError) as raised:
        client.graphql("query { nope }", {})
    assert raised.value.errors == errors


def test_graphql_not_found_without_any_data_is_not_found() -> None:
    errors = [{"type": "NOT_FOUND", "path": ["organization"], "message": "Could not resolve"}]
    client = make_client(Script(httpx.Response(200, json={"data": None, "errors": errors})))
    with pytest.raises(NotFoundError):
        client.graphql(QUERY, {})


def test_legacy_abuse_message_is_a_secondary_limit() -> None:
    clock = FakeClock()
    abuse = {"message": "You have triggered an abuse detection mechanism."}
    client = make_client(Script(httpx.Response(403, json=abuse), ok()), clock)
    client.rest_get("/x")
    assert 60.0 <= clock.sleeps[0] <= 66.0


@pytest.mark.parametrize("status", [502, 504])
def test_graphql_gateway_timeout_retried_twice_then_query_timeout(status: int) -> None:
    clock = FakeClock()
    script = Script(httpx.Response(status), repeat_last=True)
    client = make_client(script, clock)

    with pytest.raises(QueryTimeoutError) as raised:
        client.graphql(QUERY, {})

    assert isinstance(raised.value, TransientError)
    assert raised.value.status == status  # what callers key page shrinking on
    assert len(script.requests) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_graphql_timeout_reported_as_200_is_a_query_timeout() -> None:
    clock = FakeClock()
    message = (
        "Something went wrong while executing your query. This may be the result of a timeout, "
        "or it could be a GitHub bug."
    )
    script = Script(
        httpx.Response(200, json={"data": None, "errors": [{"message": message}]}), repeat_last=True
    )
    client = make_client(script, clock)
    with pytest.raises(QueryTimeoutError) as raised:
        client.graphql(QUERY, {})
    assert raised.value.status == 504
    assert len(script.requests) == 3


def test_graphql_gateway_timeout_then_success() -> None:
    clock = FakeClock()
    client = make_client(Script(httpx.Response(502), graphql_ok({"viewer": None})), clock)
    assert client.graphql(QUERY, {}).data == {"viewer": None}
    assert clock.sleeps == [1.0]


def test_graphql_reserve_uses_rate_limit_from_data() -> None:
    clock = FakeClock()
    reset_at = datetime.fromtimestamp(NOW + 300, UTC).isoformat().replace("+00:00", "Z")
    low = {**RATE_LIMIT_DATA, "remaining": 150, "resetAt": reset_at}
    script = Script(
        httpx.Response(200, json={"data": {"rateLimit": low}}), graphql_ok({"viewer": None})
    )
    client = make_client(script, clock)
    client.graphql(QUERY, {})
    client.graphql(QUERY, {})
    assert clock.sleeps == [301.0]


# -------------------------------------------------------------------------- size, stats, etc.


def test_response_larger_than_cap_is_refused() -> None:
    client = make_client(
        Script(httpx.Response(200, content=b"[" + b"1," * 600 + b"1]")), max_response_bytes=1000
    )
    with pytest.raises(TransientError, match="response too large"):
        client.rest_get("/x")


def test_streamed_response_larger_than_cap_is_refused_while_reading() -> None:
    chunks_read: list[int] = []

    def body() -> Iterator[bytes]:
        for i in range(100):
            chunks_read.append(i)
            yield b"x" * 100

    client = make_client(Script(httpx.Response(200, content=body())), max_response_bytes=1000)
    with pytest.raises(TransientError, match="response too large"):
        client.rest_get("/x")
    assert len(chunks_read) < 100


def test_stats_count_requests_retries_and_waits() -> None:
    clock = FakeClock()
    script = Script(
        httpx.Response(500),
        httpx.Response(429, headers={"retry-after": "30"}),
        ok(),
        graphql_ok({"rateLimit": RATE_LIMIT_DATA}),
    )
    client = make_client(script, clock)
    client.rest_get("/a")
    client.graphql(QUERY, {})

    stats = client.stats()
    assert stats.requests == {"rest": 3, "graphql": 1}
    assert stats.rest_charged == 3
    assert stats.graphql_points == 3
    assert stats.retries == {"server_error": 1, "retry_after": 1}
    assert stats.waits == {"server_error": 1, "retry_after": 1}
    assert stats.wait_seconds == {"server_error": 1.0, "retry_after": 30.0}


def test_concurrency_is_bounded() -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        return ok()

    client = make_client(handler, max_concurrency=2)
    threads = [threading.Thread(target=client.rest_get, args=("/x",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == 2
    assert client.stats().requests == {"rest": 8}


def test_requests_carry_github_headers() -> None:
    script = Script(ok())
    make_client(script, user_agent="healthexporter/test").rest_get("/x")
    headers = script.requests[0].headers
    assert headers["authorization"] == "Bearer ghp_test"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == "healthexporter/test"


# ------------------------------------------------------------------------------- redaction

CANARY = "ghp_CANARY0123456789abcdefCANARY"


def echo_token(status: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A misbehaving server (or proxy) that echoes the Authorization header in its errors."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"message": f"bad {request.headers['authorization']}"},
            headers=headers,
        )

    return handler


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        (echo_token(401), "rest"),
        (echo_token(403), "rest"),
        (echo_token(404), "rest"),
        (echo_token(422), "rest"),
        (echo_token(500), "rest"),
        (echo_token(429), "rest"),
        (echo_token(403, **limits(0, NOW + 99_999)), "rest"),
        (echo_token(502), "graphql"),
        (httpx.ConnectError(f"refused {CANARY}"), "rest"),
        (
            lambda r: httpx.Response(
                200, json={"errors": [{"message": r.headers["authorization"]}]}
            ),
            "graphql",
        ),
        (
            lambda r: httpx.Response(301, headers={"location": f"https://evil.example/{CANARY}"}),
            "rest",
        ),
    ],
)
def test_token_never_appears_in_errors_logs_or_repr(
    answer: Answer, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(answer, repeat_last=True)
    client = make_client(script, token=CANARY, max_retries=2)

    with pytest.raises(GitHubError) as raised:
        if call == "rest":
            client.rest_get("/repos/o/r")
        else:
            client.graphql(QUERY, {})

    assert script.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    assert CANARY not in str(raised.value)
    assert CANARY not in repr(raised.value)
    assert CANARY not in repr(client)
    assert all(CANARY not in record.getMessage() for record in caplog.records)
    chained: BaseException | None = raised.value
    while chained is not None:
        assert CANARY not in repr(chained)
        chained = chained.__cause__ or chained.__context__
