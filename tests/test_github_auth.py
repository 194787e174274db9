"""Token providers: environment, file rotation, and the GitHub App exchange against a real HTTP
server on loopback that verifies the App's RS256 JWT with the public key."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import github  # noqa: F401  (imported first: its import resets the "github" log level)
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthexporter.clock import FakeClock
from healthexporter.errors import NotFoundError, UnauthorizedError
from healthexporter.github.auth import (
    AppInstallationToken,
    EnvToken,
    FileToken,
    StaticToken,
    redact,
)
from healthexporter.github.client import GitHubClient

# ----------------------------------------------------------------------------------- redact


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("token ghp_abc in text", ["ghp_abc"], "token *** in text"),
        ("ghp_abc ghp_abc", ["ghp_abc"], "*** ***"),
        ("nothing here", ["ghp_abc"], "nothing here"),
        ("empty secrets are ignored", ["", "x" * 0], "empty secrets are ignored"),
        ("ghp_abcdef", ["ghp_abc", "ghp_abcdef"], "***"),  # longest first: nothing left over
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


def test_static_token_repr_hides_the_value() -> None:
    assert StaticToken("ghp_secret").token() == "ghp_secret"
    assert "ghp_secret" not in repr(StaticToken("ghp_secret"))


# -------------------------------------------------------------------------------- EnvToken


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_env_token_unset_or_empty_names_the_variable(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("HE_TEST_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HE_TEST_TOKEN", value)
    with pytest.raises(UnauthorizedError, match="HE_TEST_TOKEN is unset or empty"):
        EnvToken("HE_TEST_TOKEN").token()


def test_env_token_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HE_TEST_TOKEN", " ghp_from_env\n")
    provider = EnvToken("HE_TEST_TOKEN")
    assert provider.token() == "ghp_from_env"
    assert repr(provider) == "EnvToken('HE_TEST_TOKEN')"
    assert "ghp_from_env" not in repr(provider)


# ------------------------------------------------------------------------------- FileToken


def write_token(path: Path, value: str, mtime: int) -> None:
    path.write_text(value, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_file_token_strips_and_rereads_on_rotation(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_token(path, "ghp_one\n", 1_000)
    provider = FileToken(path)

    assert provider.token() == "ghp_one"
    write_token(path, "ghp_two\n", 2_000)  # the secret was rotated
    assert provider.token() == "ghp_two"
    assert "ghp_two" not in repr(provider) and str(path) in repr(provider)


def test_file_token_is_cached_while_mtime_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_token(path, "ghp_one", 1_000)
    provider = FileToken(path)
    assert provider.token() == "ghp_one"
    write_token(path, "ghp_two", 1_000)  # same mtime: not re-read …
    assert provider.token() == "ghp_one"
    provider.invalidate()  # … until a 401 invalidates it
    assert provider.token() == "ghp_two"


@pytest.mark.parametrize("content", [None, "", "  \n"], ids=["missing", "empty", "blank"])
def test_file_token_errors_name_the_path(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UnauthorizedError, match=str(path)):
        FileToken(path).token()


def test_client_rereads_a_rotated_file_token_after_401(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_token(path, "ghp_old", 1_000)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer ghp_old":
            write_token(path, "ghp_new", 1_000)  # rotated, but the mtime looks unchanged
            return httpx.Response(401, json={"message": "Bad credentials"})
        return httpx.Response(200, json={})

    client = GitHubClient(
        tokens=FileToken(path), clock=FakeClock(), transport=httpx.MockTransport(handler)
    )
    assert client.rest_get("/user").status == 200
    assert seen == ["Bearer ghp_old", "Bearer ghp_new"]


# ------------------------------------------------------------------- AppInstallationToken

APP_ID = "12345"
INSTALLATION_ID = 42


class FakeGitHubApp:
    """A loopback server answering GitHub's installation-token exchange; it verifies the JWT."""

    def __init__(self, public_key: rsa.RSAPublicKey, clock: FakeClock) -> None:
        self.public_key = public_key
        self.clock = clock
        self.issued = 0
        self.paths: list[str] = []
        self.claims: list[dict[str, Any]] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                app.paths.append(self.path)
                status, body = app.answer(self.path, self.headers.get("authorization", ""))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api/v3"  # a GHES-style base path

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer":
            return 401, {"message": "A JSON web token could not be decoded"}
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return 401, {"message": "A JSON web token could not be decoded"}
        self.claims.append(claims)
        if path != f"/api/v3/app/installations/{INSTALLATION_ID}/access_tokens":
            return 404, {"message": "Not Found"}
        if claims.get("iss") != APP_ID:
            return 401, {"message": "Integration not found"}
        self.issued += 1
        expires_at = datetime.fromtimestamp(self.clock.time(), UTC) + timedelta(hours=1)
        return 201, {
            "token": f"ghs_installation{self.issued}",
            "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        }


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(path: Path, key: rsa.RSAPrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def github_app(rsa_key: rsa.RSAPrivateKey, clock: FakeClock) -> Iterator[FakeGitHubApp]:
    app = FakeGitHubApp(rsa_key.public_key(), clock)
    app.thread.start()
    yield app
    app.server.shutdown()
    app.server.server_close()


def test_app_token_is_minted_cached_and_refreshed_five_minutes_before_expiry(
    github_app: FakeGitHubApp,
    rsa_key: rsa.RSAPrivateKey,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub logs bodies at DEBUG
    provider = AppInstallationToken(
        APP_ID, INSTALLATION_ID, write_key(tmp_path / "app.pem", rsa_key), github_app.api_url, clock
    )

    assert provider.token() == "ghs_installation1"
    assert github_app.paths == [f"/api/v3/app/installations/{INSTALLATION_ID}/access_tokens"]
    assert github_app.claims[0]["iss"] == APP_ID
    assert provider.expires_at == datetime.fromtimestamp(clock.time(), UTC) + timedelta(hours=1)

    clock.advance(3600 - 301)  # 5 min 1 s before expiry: still cached
    assert provider.token() == "ghs_installation1"
    assert github_app.issued == 1

    clock.advance(2)  # inside the 5-minute margin: refreshed
    assert provider.token() == "ghs_installation2"
    assert github_app.issued == 2

    provider.invalidate()  # after a 401
    assert provider.token() == "ghs_installation3"

    assert "ghs_installation" not in repr(provider)
    pygithub_lines = [r.getMessage() for r in caplog.records if r.name == "github.Requester"]
    assert any("access_tokens" in line for line in pygithub_lines)
    for record in caplog.records:
        assert "ghs_installation" not in record.getMessage()


def test_app_token_with_a_wrong_key_is_unauthorized(
    github_app: FakeGitHubApp, clock: FakeClock, tmp_path: Path
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider = AppInstallationToken(
        APP_ID,
        INSTALLATION_ID,
        write_key(tmp_path / "wrong.pem", other_key),
        github_app.api_url,
        clock,
    )
    with pytest.raises(UnauthorizedError, match="rejected the App JWT"):
        provider.token()


def test_app_token_for_an_unknown_installation_is_not_found(
    github_app: FakeGitHubApp, rsa_key: rsa.RSAPrivateKey, clock: FakeClock, tmp_path: Path
) -> None:
    provider = AppInstallationToken(
        APP_ID, 999, write_key(tmp_path / "app.pem", rsa_key), github_app.api_url, clock
    )
    with pytest.raises(NotFoundError, match="installation not found"):
        provider.token()


def test_app_token_with_a_missing_key_file_names_the_path(tmp_path: Path) -> None:
    provider = AppInstallationToken(
        APP_ID, INSTALLATION_ID, tmp_path / "nope.pem", clock=FakeClock()
    )
    with pytest.raises(UnauthorizedError, match=r"nope\.pem"):
        provider.token()


def test_client_uses_the_app_token(
    github_app: FakeGitHubApp, rsa_key: rsa.RSAPrivateKey, clock: FakeClock, tmp_path: Path
) -> None:
    provider = AppInstallationToken(
        APP_ID, INSTALLATION_ID, write_key(tmp_path / "app.pem", rsa_key), github_app.api_url, clock
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={})

    client = GitHubClient(tokens=provider, clock=clock, transport=httpx.MockTransport(handler))
    client.rest_get("/installation/repositories")
    assert seen == ["Bearer ghs_installation1"]
    assert "ghs_" not in repr(client)
