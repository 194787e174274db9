"""The simulator's HTTP server over real HTTP on 127.0.0.1: GitHub's shapes (checked against
GitHub's OpenAPI description), pagination, conditional requests, rate limits, every fault kind
as a client sees it, authentication, the app token exchange, accounting and the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthexporter.simulator.dataset import (
    Dataset,
    SimItem,
    SimRelease,
    SimRepository,
    SimTag,
    SimTimelineEntry,
    SimUser,
)
from healthexporter.simulator.faults import FaultPlan, FaultRule
from healthexporter.simulator.server import AppConfig, SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
OPENAPI = ROOT / "node_modules/@octokit/openapi/generated/api.github.com.json"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
AUTH = {"Authorization": "bearer test-token"}


# --- a small literal world ------------------------------------------------------------------


def make_dataset() -> Dataset:
    items = []
    for number in range(1, 48):
        pull = number % 2 == 1
        item = SimItem(
            number=number,
            kind="pull_request" if pull else "issue",
            author=None if number == 5 else ("dependabot" if number == 7 else "alice"),
            author_association="MEMBER",
            created_at=NOW - timedelta(days=100 - number),
            updated_at=NOW - timedelta(days=60 - number),
            is_draft=number == 3,
            labels=["bug"] if number % 3 == 0 else [],
        )
        if number % 4 == 0:
            item.state, item.closed_at = "CLOSED", item.updated_at
        if number == 9:
            item.state, item.merged_at, item.closed_at = "MERGED", item.updated_at, item.updated_at
        if number == 2:
            comment = SimTimelineEntry("c1", "IssueComment", "bob", item.created_at, "NONE")
            item.timeline.append(comment)
        items.append(item)
    rocket = SimRepository(
        owner="acme",
        name="rocket",
        created_at=NOW - timedelta(days=400),
        pushed_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
        items=items,
        releases=[
            SimRelease(
                "v1.0.0", NOW - timedelta(days=30), NOW - timedelta(days=30), author="alice"
            ),
            SimRelease("v1.1.0-rc.1", NOW - timedelta(days=3), None, True, True, None),
        ],
        tags=[SimTag("v1.0.0", "a" * 40, NOW - timedelta(days=30))],
        former_names=["acme/old-rocket"],
    )
    others = [
        SimRepository(owner="acme", name=f"tool-{n}", created_at=NOW - timedelta(days=n))
        for n in range(1, 6)
    ]
    users = [SimUser("alice"), SimUser("bob"), SimUser("dependabot", kind="Bot")]
    users.append(SimUser("acme", kind="Organization"))
    return Dataset(NOW, users, [rocket, *others])


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(make_dataset()) as running:
        yield running


@pytest.fixture
def client(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        yield http


# --- GitHub's OpenAPI description as the oracle of shapes -----------------------------------


@cache
def openapi() -> dict[str, Any]:
    with open(OPENAPI, encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = openapi()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def response_schema(operation_id: str) -> dict[str, Any]:
    for item in openapi()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                responses = operation["responses"]
                success = next(code for code in responses if code.startswith("2"))
                content = resolve(responses[success])["content"]["application/json"]
                return resolve(content["schema"])
    raise KeyError(operation_id)


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def shape_problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Required keys present and JSON types right, recursively (anyOf/oneOf: one must fit)."""
    schema = resolve(schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [shape_problems(value, option, where) for option in schema[combinator]]
            return [] if any(not o for o in options) else min(options, key=len)
    if "allOf" in schema:
        return [p for part in schema["allOf"] for p in shape_problems(value, part, where)]
    if value is None:
        nullable = schema.get("nullable") or "null" in (schema.get("type") or [])
        return [] if nullable or not schema.get("type") else [f"{where} is null"]
    kinds = schema.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if kinds:
        allowed = tuple(t for k in kinds if k in _TYPES for t in _TYPES[k])
        is_bool_as_number = isinstance(value, bool) and bool not in allowed
        if allowed and (not isinstance(value, allowed) or is_bool_as_number):
            return [f"{where}: {type(value).__name__} is not {'/'.join(kinds)}"]
    problems = []
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}.{key} missing")
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                problems += shape_problems(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, entry in enumerate(value):
            problems += shape_problems(entry, schema["items"], f"{where}[{index}]")
    return problems


@pytest.mark.parametrize(
    ("operation_id", "path"),
    [
        ("repos/get", "/repos/acme/rocket"),
        ("issues/list-for-repo", "/repos/acme/rocket/issues?state=all&per_page=100"),
        ("repos/list-releases", "/repos/acme/rocket/releases"),
        ("repos/list-tags", "/repos/acme/rocket/tags"),
        ("repos/list-for-org", "/orgs/acme/repos?type=all"),
        ("rate-limit/get", "/rate_limit"),
        ("users/get-authenticated", "/user"),
    ],
)
def test_rest_shapes_follow_githubs_openapi(
    client: httpx.Client, operation_id: str, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    body = answer.json()
    if isinstance(body, list):
        assert body, "an empty list proves nothing"
    assert shape_problems(body, response_schema(operation_id)) == []


def test_the_shape_check_catches_a_missing_key() -> None:
    schema = response_schema("repos/list-tags")
    tag: dict[str, Any] = {
        "name": "v1",
        "commit": {"sha": "a", "url": "u"},
        "zipball_url": "z",
        "node_id": "n",
    }
    assert shape_problems([tag], schema) == ["$[0].tarball_url missing"]
    tag["tarball_url"], tag["name"] = "t", 1
    assert shape_problems([tag], schema) == ["$[0].name: int is not string"]


def test_issue_list_has_issues_and_pull_requests_as_github_does(client: httpx.Client) -> None:
    entries = client.get("/repos/acme/rocket/issues?state=all&per_page=100").json()
    by_number = {entry["number"]: entry for entry in entries}
    assert len(by_number) == 47
    assert "pull_request" in by_number[1] and "pull_request" not in by_number[2]
    assert by_number[3]["draft"] is True
    assert by_number[9]["state"] == "closed" and by_number[9]["pull_request"]["merged_at"]
    assert by_number[2]["comments"] == 1
    assert by_number[5]["user"]["login"] == "ghost"
    assert by_number[7]["user"] == {
        **by_number[7]["user"],
        "login": "dependabot[bot]",
        "type": "Bot",
    }
    assert by_number[6]["labels"][0]["name"] == "bug"
    open_only = client.get("/repos/acme/rocket/issues?per_page=100").json()
    assert all(entry["state"] == "open" for entry in open_only)
    created_desc = [entry["number"] for entry in open_only]
    assert created_desc == sorted(created_desc, reverse=True)


def test_issue_filters_since_sort_and_direction(client: httpx.Client) -> None:
    since = (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"state=all&sort=updated&direction=asc&since={since}&per_page=100"
    entries = client.get(f"/repos/acme/rocket/issues?{query}").json()
    assert [e["number"] for e in entries] == list(range(40, 48))
    bad = client.get("/repos/acme/rocket/issues?state=merged")
    assert bad.status_code == 422


def test_link_pagination_walks_everything_exactly_once(client: httpx.Client) -> None:
    url: str | None = "/repos/acme/rocket/issues?state=all&per_page=7"
    seen: list[int] = []
    pages = 0
    while url:
        answer = client.get(url)
        seen += [entry["number"] for entry in answer.json()]
        pages += 1
        url = answer.links.get("next", {}).get("url")
        if url:
            assert url.startswith(client.base_url.scheme + "://127.0.0.1:")
    assert pages == 7
    assert sorted(seen) == list(range(1, 48)) and len(seen) == 47
    last = client.get("/repos/acme/rocket/issues?state=all&per_page=7&page=7")
    assert set(last.links) == {"prev", "first"}
    middle = client.get("/repos/acme/rocket/issues?state=all&per_page=7&page=3")
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert middle.links["last"]["url"].endswith("page=7")
    single = client.get("/repos/acme/rocket/releases")
    assert "link" not in single.headers
    capped = client.get("/repos/acme/rocket/issues?state=all&per_page=500")
    assert len(capped.json()) == 47


def test_etag_answers_304_uncharged_until_the_data_changes(
    server: SimulatorServer, client: httpx.Client
) -> None:
    probe = "/repos/acme/rocket/issues?state=all&sort=updated&direction=desc&per_page=1"
    first = client.get(probe)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    remaining = first.headers["x-ratelimit-remaining"]
    again = client.get(probe, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == remaining
    repo = server.dataset.repository("acme", "rocket")
    assert repo is not None
    server.dataset.add_item(
        repo, SimItem(48, "issue", "bob", "NONE", NOW, NOW + timedelta(minutes=1))
    )
    changed = client.get(probe, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()[0]["number"] == 48
    assert int(changed.headers["x-ratelimit-remaining"]) == int(remaining) - 1
    stats = server.stats()
    assert stats["requests"]["rest_not_modified"] == 1
    assert stats["core_charged"] == 2


def test_last_modified_and_if_modified_since(client: httpx.Client) -> None:
    first = client.get("/repos/acme/rocket")
    assert first.headers["last-modified"] == "Fri, 31 May 2024 00:00:00 GMT"
    cached = client.get(
        "/repos/acme/rocket", headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert cached.status_code == 304


def test_primary_limit_answers_403_with_remaining_zero() -> None:
    with (
        SimulatorServer(make_dataset(), limits={"core": 3}) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        remaining = [client.get("/repos/acme/rocket").headers["x-ratelimit-remaining"]]
        remaining += [client.get("/repos/acme/rocket").headers["x-ratelimit-remaining"]]
        remaining += [client.get("/repos/acme/rocket").headers["x-ratelimit-remaining"]]
        assert remaining == ["2", "1", "0"]
        limited = client.get("/repos/acme/rocket")
        assert limited.status_code == 403
        assert limited.json()["message"].startswith("API rate limit exceeded for user ID 1.")
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) > time.time()
        assert client.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0
        other = client.get("/repos/acme/rocket", headers={"Authorization": "token other"})
        assert other.status_code == 200  # buckets are per token


def test_primary_limit_status_and_window_follow_the_clock() -> None:
    now = [1_800_000_000.0]
    with (
        SimulatorServer(
            make_dataset(), limits={"core": 1}, primary_limit_status=429, clock=lambda: now[0]
        ) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        assert client.get("/user").status_code == 200
        limited = client.get("/user")
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-reset"] == str(1_800_000_000 + 3600)
        now[0] += 3600
        assert client.get("/user").status_code == 200


# --- authentication -------------------------------------------------------------------------


def test_bad_credentials(server: SimulatorServer) -> None:
    server.tokens = {"good"}
    server.revoked_tokens = {"revoked"}
    expected = {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    with httpx.Client(base_url=server.url) as client:
        for headers in ({}, {"Authorization": "bearer nope"}, {"Authorization": "token revoked"}):
            answer = client.get("/repos/acme/rocket", headers=headers)
            assert (answer.status_code, answer.json()) == (401, expected)
        assert client.get("/repos/acme/rocket", headers={"Authorization": "token good"}).is_success
        server.revoke_token("good")
        assert client.get("/user", headers={"Authorization": "bearer good"}).status_code == 401
        graphql = client.post("/graphql", json={"query": "{ rateLimit { cost } }"})
        assert graphql.status_code == 401


def test_renamed_repository_redirects_to_its_id(client: httpx.Client) -> None:
    moved = client.get("/repos/acme/old-rocket/issues?state=all")
    assert moved.status_code == 301
    repository_id = client.get("/repos/acme/rocket").json()["id"]
    location = moved.headers["location"]
    assert (
        location
        == f"{str(client.base_url).rstrip('/')}/repositories/{repository_id}/issues?state=all"
    )
    followed = client.get("/repos/acme/old-rocket", follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["full_name"] == "acme/rocket"
    assert client.get(location).json()[0]["number"] == 47
    assert client.get("/repos/acme/missing").json()["message"] == "Not Found"
    assert client.get("/repos/acme/missing").status_code == 404
    assert client.get("/orgs/nobody/repos").status_code == 404
    assert client.get("/no/such/route").status_code == 404


def test_api_v3_prefix_and_link_urls_keep_it(client: httpx.Client) -> None:
    answer = client.get("/api/v3/repos/acme/rocket/issues?state=all&per_page=10")
    assert answer.status_code == 200
    assert "/api/v3/repos/acme/rocket/issues?" in answer.links["next"]["url"]
    assert (
        client.get("/api/v3/repos/acme/rocket")
        .json()["url"]
        .startswith(f"{str(client.base_url).rstrip('/')}/api/v3/repos/")
    )
    assert client.get("/api/v3/rate_limit").status_code == 200


def test_org_repositories_list_and_types(client: httpx.Client) -> None:
    names = [r["name"] for r in client.get("/orgs/acme/repos?sort=full_name").json()]
    assert names == ["rocket", "tool-1", "tool-2", "tool-3", "tool-4", "tool-5"]
    assert client.get("/orgs/acme/repos?type=forks").json() == []


def test_keep_alive_serves_several_requests_on_one_connection(server: SimulatorServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        request = b"GET /rate_limit HTTP/1.1\r\nHost: x\r\nAuthorization: bearer t\r\n\r\n"
        raw.sendall(request + request)
        received = b""
        deadline = time.monotonic() + 5
        while received.count(b'"rate"') < 2 and time.monotonic() < deadline:
            received += raw.recv(65536)
    assert received.count(b"HTTP/1.1 200 OK") == 2


# --- app installation tokens ----------------------------------------------------------------


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private: bool, key: rsa.RSAPrivateKey | None = None) -> str:
    key = key or rsa_key()
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def app_jwt(now: float, *, iss: str = "42", exp_in: float = 540, key: str | None = None) -> str:
    claims = {"iat": int(now) - 60, "exp": int(now + exp_in), "iss": iss}
    return jwt.encode(claims, key or pem(private=True), algorithm="RS256")


def test_app_installation_token_exchange() -> None:
    now = [1_800_000_000.0]
    app = AppConfig(app_id=42, public_key_pem=pem(private=False), installation_ids=frozenset({7}))
    with (
        SimulatorServer(make_dataset(), app=app, tokens=set(), clock=lambda: now[0]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        path = "/app/installations/7/access_tokens"
        answer = client.post(path, headers={"Authorization": f"Bearer {app_jwt(now[0])}"})
        assert answer.status_code == 201
        body = answer.json()
        assert body["token"].startswith("ghs_") and len(body["token"]) == 40
        expires = datetime.fromtimestamp(now[0] + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["expires_at"] == expires
        assert shape_problems(body, response_schema("apps/create-installation-access-token")) == []
        token = {"Authorization": f"token {body['token']}"}
        assert client.get("/repos/acme/rocket", headers=token).status_code == 200
        assert client.get("/user", headers=token).status_code == 403  # not for integrations
        now[0] += 3601
        assert client.get("/repos/acme/rocket", headers=token).status_code == 401

        def status(authorization: str, installation: int = 7) -> int:
            headers = {"Authorization": authorization}
            url = f"/app/installations/{installation}/access_tokens"
            return client.post(url, headers=headers).status_code

        assert status(f"Bearer {app_jwt(now[0])}") == 201  # a new token each time
        assert status(f"Bearer {app_jwt(now[0], iss='43')}") == 401
        assert status(f"Bearer {app_jwt(now[0], exp_in=3600)}") == 401  # more than 10 minutes
        assert status(f"Bearer {app_jwt(now[0] - 1200)}") == 401  # expired
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert status(f"Bearer {app_jwt(now[0], key=pem(True, other_key))}") == 401
        assert status("Bearer not-a-jwt") == 401
        assert status(f"Bearer {app_jwt(now[0])}", installation=8) == 404


def test_pygithub_exchanges_an_installation_token() -> None:
    github = pytest.importorskip("github")
    app = AppConfig(app_id=42, public_key_pem=pem(private=False), installation_ids=frozenset({7}))
    with SimulatorServer(make_dataset(), app=app, tokens=set()) as server:
        integration = github.GithubIntegration(
            auth=github.Auth.AppAuth(42, pem(private=True)), base_url=server.url
        )
        authorization = integration.get_access_token(7)
        assert authorization.token.startswith("ghs_")
        with httpx.Client(base_url=server.url) as client:
            headers = {"Authorization": f"token {authorization.token}"}
            assert client.get("/repos/acme/rocket", headers=headers).status_code == 200


# --- faults as the client sees them ---------------------------------------------------------

PROBE = {
    "query": "query Probe($owner: String!, $name: String!) { "
    "repository(owner: $owner, name: $name) { nameWithOwner } rateLimit { cost remaining } }",
    "variables": {"owner": "acme", "name": "rocket"},
}


@pytest.fixture
def graphql_engine() -> None:
    pytest.importorskip("healthexporter.simulator.graphql_api")


def test_server_errors_on_chosen_graphql_ordinals(
    server: SimulatorServer, client: httpx.Client, graphql_engine: None
) -> None:
    server.set_faults("502 api=graphql at=2-3")
    statuses = []
    for _ in range(4):
        client.get("/repos/acme/rocket")  # REST requests do not count towards GraphQL ordinals
        statuses.append(client.post("/graphql", json=PROBE).status_code)
    assert statuses == [200, 502, 502, 200]
    failed = client.post("/graphql", json=PROBE)  # the rule fired its 2 times
    assert failed.status_code == 200
    server.set_faults("500 api=rest; 503 api=rest")
    five_hundred = client.get("/repos/acme/rocket")
    assert (five_hundred.status_code, five_hundred.json()) == (500, {"message": "Server Error"})
    assert client.get("/repos/acme/rocket").status_code == 503
    assert server.stats()["faults"] == {"502": 2, "500": 1, "503": 1}


def test_graphql_502_carries_githubs_error_body(
    server: SimulatorServer, client: httpx.Client
) -> None:
    server.set_faults("502 api=graphql")
    answer = client.post("/graphql", json=PROBE)
    assert answer.status_code == 502
    assert answer.json()["errors"][0]["message"].startswith("Something went wrong")


def test_timeout_hangs_then_closes_or_answers(server: SimulatorServer) -> None:
    server.set_faults("timeout seconds=2 api=rest")
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/repos/acme/rocket")
        assert client.get("/repos/acme/rocket").status_code == 200
    server.set_faults("timeout seconds=0.3 then=answer")
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as client:
        started = time.monotonic()
        assert client.get("/repos/acme/rocket").status_code == 200
        assert time.monotonic() - started >= 0.3
    server.set_faults("timeout seconds=0.1")
    with (
        httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/repos/acme/rocket")


def test_connection_reset(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_faults("reset api=rest at=1")
    with pytest.raises(httpx.ReadError) as caught:
        client.get("/repos/acme/rocket")
    assert "reset" in str(caught.value).lower()
    assert client.get("/repos/acme/rocket").status_code == 200
    assert server.stats()["statuses"] == {"none": 1, "200": 1}


def test_secondary_rate_limit(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_faults("secondary status=429 seconds=2; secondary")
    first = client.get("/repos/acme/rocket")
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert first.json()["message"].startswith("You have exceeded a secondary rate limit")
    second = client.get("/repos/acme/rocket")
    assert (second.status_code, second.headers["retry-after"]) == (403, "60")
    assert int(second.headers["x-ratelimit-remaining"]) > 0  # not the primary limit
    server.set_faults("secondary seconds=0")
    assert "retry-after" not in client.get("/repos/acme/rocket").headers


def test_exhaust_drains_the_primary_limit(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_faults("exhaust api=rest")
    limited = client.get("/repos/acme/rocket")
    assert (limited.status_code, limited.headers["x-ratelimit-remaining"]) == (403, "0")
    assert client.get("/repos/acme/rocket").status_code == 403  # until the reset
    graphql = client.post("/graphql", json={"query": "{ rateLimit { remaining } }"})
    assert graphql.headers["x-ratelimit-resource"] == "graphql"  # a separate bucket


def test_exhaust_on_graphql_answers_rate_limited(
    server: SimulatorServer, client: httpx.Client, graphql_engine: None
) -> None:
    server.set_faults("exhaust api=graphql")
    answer = client.post("/graphql", json=PROBE)
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert answer.headers["x-ratelimit-remaining"] == "0"


def test_malformed_and_truncated_bodies(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_faults("malformed api=graphql; truncate api=rest")
    malformed = client.post("/graphql", json=PROBE)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/repos/acme/rocket")
    assert client.get("/repos/acme/rocket").status_code == 200


def test_graphql_partial_errors_and_rate_limited(
    server: SimulatorServer, client: httpx.Client, graphql_engine: None
) -> None:
    server.set_faults("partial; rate_limited at=2")
    partial = client.post("/graphql", json=PROBE).json()
    assert partial["data"]["repository"] is None and partial["data"]["rateLimit"]["cost"] == 1
    assert partial["errors"][0]["path"] == ["repository"]
    limited = client.post("/graphql", json=PROBE)
    assert limited.status_code == 200
    assert limited.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert client.post("/graphql", json=PROBE).json()["data"]["repository"] is not None


def test_injected_401(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_faults(FaultPlan([FaultRule("401", operation="GET /user")]))
    assert client.get("/repos/acme/rocket").status_code == 200
    assert client.get("/user").json()["message"] == "Bad credentials"
    assert client.get("/user").status_code == 200


def test_probability_faults_are_seeded_and_bounded() -> None:
    def pattern() -> list[bool]:
        plan = FaultPlan.parse("503 p=0.3 seed=7 count=4")
        return [plan.decide("rest", "GET /user") is not None for _ in range(40)]

    first = pattern()
    assert first == pattern()
    assert sum(first) == 4
    assert FaultPlan.parse("reset at=3-").decide("graphql", None) is None


def test_fault_spec_problems_are_reported_together() -> None:
    with pytest.raises(ValueError) as caught:
        FaultPlan.parse("bogus; partial api=rest; 500 at=0; secondary status=500; timeout x")
    message = str(caught.value)
    for expected in ("bogus", "GraphQL requests only", "counts from 1", "403 or 429", "'x'"):
        assert expected in message
    plan = FaultPlan.parse("502 api=graphql at=3-5; reset p=0.1 seed=2 count=*")
    assert FaultPlan.parse(plan.spec()).spec() == plan.spec()


# --- accounting and control -----------------------------------------------------------------


def test_stats_count_requests_points_and_operations(
    server: SimulatorServer, client: httpx.Client, graphql_engine: None
) -> None:
    client.get("/repos/acme/rocket")
    etag = client.get("/repos/acme/rocket/releases").headers["etag"]
    client.get("/repos/acme/rocket/releases", headers={"If-None-Match": etag})
    client.post("/graphql", json=PROBE)
    client.post("/api/graphql", json=PROBE)
    stats = client.get("/_simulator/stats").json()
    assert stats["requests"] == {"total": 5, "graphql": 2, "rest": 2, "rest_not_modified": 1}
    assert stats["operations"] == {
        "GET /repos/{owner}/{repo}": 1,
        "GET /repos/{owner}/{repo}/releases": 2,
        "Probe": 2,
    }
    assert stats["graphql_points"] == 2 and stats["core_charged"] == 2
    assert stats == server.stats()
    reset = client.post("/_simulator/reset").json()
    assert reset["requests"]["total"] == 0


def test_control_endpoints_set_faults(server: SimulatorServer, client: httpx.Client) -> None:
    answer = client.post("/_simulator/faults", json={"spec": "503 api=rest at=1"})
    assert answer.json() == {"spec": "503 api=rest at=1-1"}
    assert client.get("/user").status_code == 503
    assert client.get("/_simulator/faults").json()["fired"] == {"503 api=rest at=1-1": 1}
    bad = client.post("/_simulator/faults", json={"spec": "sometimes"})
    assert bad.status_code == 400 and "sometimes" in bad.json()["message"]


def test_evolve_endpoint(server: SimulatorServer, client: httpx.Client) -> None:
    evolve = pytest.importorskip("healthexporter.simulator.evolve")
    if not hasattr(evolve, "evolve"):
        pytest.skip("evolve.evolve has not landed")
    before = server.dataset.version
    answer = client.post("/_simulator/evolve", json={"seed": 3, "advance": 3600, "new_items": 2})
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), dict)
    assert server.dataset.version > before


def test_latency_and_request_log(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with (
        SimulatorServer(make_dataset(), rest_latency_ms=150, log_path=log) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        started = time.monotonic()
        client.get("/repos/acme/rocket")
        assert time.monotonic() - started >= 0.15
        client.get("/_simulator/stats")  # control requests are not logged
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["operation"] == "GET /repos/{owner}/{repo}" and lines[0]["status"] == 200
    assert lines[0]["ms"] >= 150


# --- the command line -----------------------------------------------------------------------


def test_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    dataset_file = tmp_path / "world.json"
    make_dataset().save(dataset_file)
    saved = tmp_path / "saved.json"
    command = [
        sys.executable,
        "-m",
        "healthexporter.simulator",
        "--port",
        "0",
        "--dataset",
        str(dataset_file),
        "--faults",
        "503 api=rest at=2",
        "--core-limit",
        "10",
        "--save-dataset",
        str(saved),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers=AUTH) as client:
            first = client.get("/repos/acme/rocket")
            assert first.status_code == 200
            assert first.headers["x-ratelimit-limit"] == "10"
            assert client.get("/repos/acme/rocket").status_code == 503
            assert client.get("/_simulator/stats").json()["requests"]["total"] == 2
        assert Dataset.load(saved).repository("acme", "rocket") is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_command_line_rejects_a_bad_fault_spec() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "healthexporter.simulator", "--port", "0", "--faults", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "nope" in done.stderr


def test_chunked_request_bodies_keep_the_connection_in_step(
    server: SimulatorServer, client: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"spec": '
        yield b'"503 at=1"}'

    answer = client.post("/_simulator/faults", content=chunks())
    assert answer.json() == {"spec": "503 at=1-1"}
    assert client.get("/user").status_code == 503
    assert client.get("/user").status_code == 200
