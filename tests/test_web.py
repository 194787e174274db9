"""The HTTP server over real HTTP on 127.0.0.1: routes, readiness, content negotiation, gzip,
the landing page's escaping, basic auth, TLS (and client certificates), bad web configs, and
clients that misbehave (stuck, oversized, many at once)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from healthexporter.errors import ConfigError
from healthexporter.exposition import RenderedExposition, exporter_families, health_families, render
from healthexporter.model import RateLimitState
from healthexporter.web import (
    LandingRepository,
    LandingStatus,
    WebServer,
    landing_page,
    parse_listen_address,
)
from healthexporter.web_config import WebConfig, load_web_config, parse_web_config
from tests.test_exposition import snapshot, status

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RENDERED = render([*health_families(snapshot()), *exporter_families(status())])


@dataclass
class State:
    """What the server reads: set ``rendered`` to make it ready."""

    rendered: RenderedExposition | None = None
    landing: LandingStatus = field(
        default_factory=lambda: LandingStatus.from_exporter_status(status(), NOW)
    )


def serve(state: State, web_config: WebConfig | None = None, timeout: float = 10.0) -> WebServer:
    return WebServer(
        "127.0.0.1:0",
        exposition=lambda: state.rendered,
        status=lambda: state.landing,
        ready=lambda: state.rendered is not None,
        web_config=web_config,
        timeout=timeout,
    ).start()


@pytest.fixture
def state() -> State:
    return State()


@pytest.fixture
def server(state: State) -> Iterator[WebServer]:
    web = serve(state)
    try:
        yield web
    finally:
        web.stop()


@pytest.fixture
def client(server: WebServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


# --- routes ---------------------------------------------------------------------------------
def test_health_is_always_ok(client: httpx.Client) -> None:
    response = client.get("/-/healthy")
    assert (response.status_code, response.text) == (200, "Healthy\n")


def test_before_the_first_computation_metrics_and_ready_are_503(
    client: httpx.Client, state: State
) -> None:
    metrics = client.get("/metrics")
    assert metrics.status_code == 503
    assert "first computation" in metrics.text
    assert client.get("/-/ready").status_code == 503

    state.rendered = RENDERED
    assert client.get("/-/ready").text == "Ready\n"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200


def test_metrics_default_to_the_classic_text(client: httpx.Client, state: State) -> None:
    state.rendered = RENDERED
    response = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in response.headers
    assert response.content == RENDERED.text


def test_openmetrics_when_asked(client: httpx.Client, state: State) -> None:
    state.rendered = RENDERED
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = client.get("/metrics", headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.content == RENDERED.openmetrics
    assert response.headers["vary"] == "Accept, Accept-Encoding"


def test_gzip_when_accepted(server: WebServer, state: State) -> None:
    state.rendered = RENDERED
    port = server.port
    raw = raw_request(
        port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    assert b"Content-Encoding: gzip" in raw.split(b"\r\n\r\n")[0]
    with httpx.Client(base_url=server.url) as http:
        response = http.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.content == RENDERED.text  # httpx decompresses
        assert int(response.headers["content-length"]) == len(RENDERED.text_gzip)
    assert gzip.decompress(RENDERED.text_gzip) == RENDERED.text


def test_head_has_headers_and_no_body(server: WebServer, state: State) -> None:
    state.rendered = RENDERED
    raw = raw_request(
        server.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"Content-Length: {len(RENDERED.text)}".encode() in head
    assert body == b""


def test_unknown_paths_and_methods(client: httpx.Client, state: State) -> None:
    state.rendered = RENDERED
    assert client.get("/nope").status_code == 404
    response = client.post("/metrics", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert client.delete("/").status_code == 405
    assert client.put("/nope").status_code == 404
    assert client.get("/metrics?name[]=x").status_code == 200  # queries are ignored


def test_a_get_with_a_body_is_refused(client: httpx.Client) -> None:
    response = client.request("GET", "/metrics", content=b"hello")
    assert response.status_code == 400


def test_the_server_header_does_not_name_python(client: httpx.Client) -> None:
    assert client.get("/-/healthy").headers["server"] == "healthexporter"


# --- the landing page -----------------------------------------------------------------------
def test_landing_page_lists_repositories_and_rate_limits(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<a href="/metrics">' in page
    assert "acme/rocket" in page and "rockets" in page
    assert "not synced yet" in page  # acme/empty
    assert "<td>graphql</td><td>4588</td><td>5000</td>" in page
    assert "Version 0.1.0" in page


def test_landing_page_escapes_every_value() -> None:
    evil = "<script>alert(1)</script>"
    page = landing_page(
        LandingStatus(
            version=evil,
            repositories=[
                LandingRepository(evil, evil, NOW, ok=False, error_reason=evil, items=3),
            ],
            rate_limits=[
                RateLimitState(
                    resource=evil,
                    limit=1,
                    remaining=None,
                    used=None,
                    reset_at=None,
                    observed_at=NOW,
                )
            ],
        )
    ).decode()
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5


def test_landing_page_over_http_escapes_a_repository_named_script(state: State) -> None:
    state.landing = LandingStatus(
        version="1", repositories=[LandingRepository("p", "<script>", None, ok=None)]
    )
    with serve(state) as web, httpx.Client(base_url=web.url) as http:
        page = http.get("/").text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


# --- basic auth -----------------------------------------------------------------------------
PASSWORD = "s3cret:with colon é"


@pytest.fixture(scope="module")
def bcrypt_hash() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def test_basic_auth(state: State, bcrypt_hash: str, tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: '{bcrypt_hash}'\n")
    config = load_web_config(path)
    state.rendered = RENDERED
    with serve(state, config) as web, httpx.Client(base_url=web.url) as http:
        good = http.get("/metrics", auth=("prometheus", PASSWORD))
        assert good.status_code == 200
        for auth in [("prometheus", "wrong"), ("nobody", PASSWORD)]:
            bad = http.get("/metrics", auth=auth)
            assert bad.status_code == 401
            assert bad.headers["www-authenticate"].startswith('Basic realm="healthexporter"')
        missing = http.get("/-/healthy")
        assert missing.status_code == 401
        assert "www-authenticate" in missing.headers
        assert http.get("/", headers={"Authorization": "Basic !!!"}).status_code == 401
        assert http.get("/", headers={"Authorization": "Bearer x"}).status_code == 401
        assert http.post("/metrics").status_code == 401  # auth before anything else


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_checked_password_is_cached_by_its_digest(bcrypt_hash: str) -> None:
    config = parse_web_config({"basic_auth_users": {"u": bcrypt_hash}}, base_dir=Path())
    header = basic("u", PASSWORD)
    key = ("u", hashlib.sha256(PASSWORD.encode()).digest())
    assert config._cache.get(key) is None
    assert config.check_basic_auth(header)
    assert config._cache.get(key) is True
    assert config.check_basic_auth(header)
    assert not config.check_basic_auth(basic("u", "nope"))


def test_without_users_everything_is_allowed() -> None:
    assert WebConfig().check_basic_auth(None)


# --- TLS ------------------------------------------------------------------------------------
def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(state: State, tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, "server")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n"
    )
    config = load_web_config(tmp_path / "web.yml")  # relative to the file's directory
    state.rendered = RENDERED
    with serve(state, config) as web:
        assert web.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=web.url, verify=trust) as http:
            assert http.get("/metrics").content == RENDERED.text
        with pytest.raises(httpx.ConnectError), httpx.Client(base_url=web.url) as untrusting:
            untrusting.get("/metrics")  # the system's CAs do not know this certificate
        # plain HTTP to the TLS port: the handshake fails, the server carries on
        with pytest.raises(httpx.HTTPError), httpx.Client() as plain:
            plain.get(f"http://127.0.0.1:{web.port}/metrics")
        with httpx.Client(base_url=web.url, verify=trust) as http:
            assert http.get("/-/healthy").status_code == 200


def test_tls_client_certificates(state: State, tmp_path: Path) -> None:
    server_cert, _ = self_signed(tmp_path, "server")
    client_cert, client_key = self_signed(tmp_path, "client")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n"
        "  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client.crt\n"
    )
    config = load_web_config(tmp_path / "web.yml")
    with serve(state, config) as web:
        trust = ssl.create_default_context(cafile=str(server_cert))
        with pytest.raises(httpx.HTTPError), httpx.Client(base_url=web.url, verify=trust) as http:
            http.get("/-/healthy")
        trust.load_cert_chain(client_cert, client_key)
        with httpx.Client(base_url=web.url, verify=trust) as http:
            assert http.get("/-/healthy").status_code == 200


# --- bad web configs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("- a list\n", ["expected a mapping at the top level"]),
        ("tls_server_config: [\n", ["not valid YAML"]),
        ("tls_config: {}\n", ["unknown key 'tls_config'"]),
        (
            "tls_server_config:\n  cert_file: missing.crt\n",
            ["cert_file: ", "missing.crt does not exist", "key_file: missing"],
        ),
        (
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  min_version: TLS14\n"
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n  client_auth_type: RequireAnyClientCert\n",
            [
                "min_version: unknown value 'TLS14'",
                "cipher_suites: not supported",
                "RequireAnyClientCert is not supported",
            ],
        ),
        (
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_ca_file: s.crt\n",
            ["client_ca_file is set but client_auth_type is NoClientCert"],
        ),
        (
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            ["client_ca_file: missing (needed by RequireAndVerifyClientCert)"],
        ),
        (
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n"
            "  min_version: TLS13\n  max_version: TLS12\n",
            ["max_version TLS12 is below min_version TLS13"],
        ),
        (
            "tls_server_config:\n  cert_file: garbage.crt\n  key_file: s.key\n",
            ["cannot load the certificate, key or client CA"],
        ),
        (
            "basic_auth_users:\n  alice: plaintext\n  'bob:x': '$2b$04$abc'\n",
            ["basic_auth_users.alice: not a bcrypt hash", "basic_auth_users.bob:x: a user name"],
        ),
        (
            "http_server_config:\n  headers:\n    Server: evil\n    X-Frame-Options: deny\n"
            "  http3: true\n",
            ["headers.Server: this header cannot be set", "unknown key 'http3'"],
        ),
    ],
)
def test_bad_web_configs_say_what_is_wrong(tmp_path: Path, text: str, problems: list[str]) -> None:
    self_signed(tmp_path, "s")
    (tmp_path / "garbage.crt").write_text("not a certificate\n")
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    message = str(caught.value)
    for problem in problems:
        assert problem in message
    assert all(p.startswith(str(path)) for p in caught.value.problems)


def test_a_missing_web_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_web_config(tmp_path / "nope.yml")


def test_good_web_configs(tmp_path: Path, bcrypt_hash: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text("")
    assert load_web_config(path) == WebConfig()
    path.write_text(
        "http_server_config:\n  http2: false\n  headers:\n    x-content-type-options: nosniff\n"
        f"basic_auth_users:\n  u: '{bcrypt_hash}'\n"
    )
    config = load_web_config(path)
    assert config.headers == {"X-Content-Type-Options": "nosniff"}
    assert config.auth_required and config.tls is None


def test_configured_headers_are_sent(state: State) -> None:
    config = parse_web_config(
        {"http_server_config": {"headers": {"X-Frame-Options": "deny"}}}, base_dir=Path()
    )
    with serve(state, config) as web, httpx.Client(base_url=web.url) as http:
        assert http.get("/-/healthy").headers["x-frame-options"] == "deny"
        assert http.get("/nope").headers["x-frame-options"] == "deny"


# --- clients that misbehave -----------------------------------------------------------------
def test_a_stuck_client_does_not_block_a_scrape(state: State) -> None:
    state.rendered = RENDERED
    with serve(state, timeout=1.0) as web:
        stuck = socket.create_connection(("127.0.0.1", web.port))
        half = socket.create_connection(("127.0.0.1", web.port))
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        try:
            started = time.monotonic()
            with httpx.Client(base_url=web.url, timeout=5) as http:
                assert http.get("/metrics").status_code == 200
            assert time.monotonic() - started < 0.9  # did not wait for the stuck ones
            stuck.settimeout(5)
            assert stuck.recv(1) == b""  # the server hung up after its read timeout
        finally:
            stuck.close()
            half.close()


def test_a_stuck_tls_client_does_not_block_a_scrape(state: State, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "server")
    config = parse_web_config(
        {"tls_server_config": {"cert_file": str(cert), "key_file": str(key)}}, base_dir=tmp_path
    )
    state.rendered = RENDERED
    with serve(state, config, timeout=1.0) as web:
        stuck = socket.create_connection(("127.0.0.1", web.port))  # no ClientHello
        try:
            trust = ssl.create_default_context(cafile=str(cert))
            with httpx.Client(base_url=web.url, verify=trust, timeout=5) as http:
                assert http.get("/metrics").status_code == 200
        finally:
            stuck.close()


def test_a_hundred_concurrent_scrapes(server: WebServer, state: State) -> None:
    state.rendered = RENDERED
    limits = httpx.Limits(max_connections=50)
    with httpx.Client(base_url=server.url, limits=limits, timeout=30) as http:

        def scrape(_: int) -> bytes:
            response = http.get("/metrics", headers={"Accept": "application/openmetrics-text"})
            response.raise_for_status()
            return response.content

        with ThreadPoolExecutor(max_workers=50) as pool:
            bodies = list(pool.map(scrape, range(100)))
    assert bodies == [RENDERED.openmetrics] * 100


def test_oversized_requests_are_refused(server: WebServer) -> None:
    header = raw_request(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    )
    assert header.startswith(b"HTTP/1.1 431")
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    assert raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n").startswith(
        b"HTTP/1.1 431"
    )
    line = raw_request(server.port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert line.startswith(b"HTTP/1.1 414")


# --- listen addresses -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        (":9935", ("", 9935)),
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:9935", ("::1", 9935)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_listen_addresses(address: str, parsed: tuple[str, int]) -> None:
    assert parse_listen_address(address) == parsed


@pytest.mark.parametrize("address", ["9935", "host:", "host:http", ":70000"])
def test_bad_listen_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="bad listen address"):
        parse_listen_address(address)


# --- HTTP/1.1 on one connection -------------------------------------------------------------
def read_response(
    sock: socket.socket, buffered: bytes = b"", *, head_only: bool = False
) -> tuple[bytes, bytes, bytes]:
    """(head, body, what follows) of one response, reading its body by Content-Length (none
    for the answer to a HEAD request)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-response"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if head_only:
        return head, b"", rest
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        rest += chunk
    return head, rest[:length], rest[length:]


def test_keep_alive_serves_pipelined_requests_with_exact_lengths(
    server: WebServer, state: State
) -> None:
    state.rendered = RENDERED
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
            b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        head, body, rest = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head
        assert gzip.decompress(body) == RENDERED.text
        head, _, rest = read_response(sock, rest, head_only=True)  # a length, no body
        assert f"Content-Length: {len(RENDERED.text)}".encode() in head
        head, body, rest = read_response(sock, rest)
        assert (head.split(b"\r\n")[0], body, rest) == (b"HTTP/1.1 200 OK", b"Healthy\n", b"")
        sock.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, body, rest = read_response(sock)
        assert b"Connection: close" in head and body == b"Ready\n"
        assert rest + sock.recv(1) == b""  # closed as asked


def test_http_1_0_closes_unless_asked_to_keep_alive(server: WebServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head, _, _ = read_response(sock)
        assert b"Connection: close" not in head
        sock.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        head, body, rest = read_response(sock)
        assert b"Connection: close" in head and body == b"Healthy\n"
        assert rest + sock.recv(1) == b""


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"TRACE / HTTP/1.1", b"501"),
        (b"GET / HTTP/2.0", b"505"),
        (b"GET / SPDY/3", b"400"),
        (b"GET /", b"400"),
    ],
)
def test_bad_request_lines(server: WebServer, request_line: bytes, status: bytes) -> None:
    raw = raw_request(server.port, request_line + b"\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 " + status)


def test_every_interface_means_ipv4_and_ipv6(state: State) -> None:
    web = WebServer(
        ":0", exposition=lambda: None, status=lambda: state.landing, ready=lambda: False
    ).start()
    try:
        assert web.url.startswith("http://localhost:")
        hosts = ["127.0.0.1", "::1"] if socket.has_dualstack_ipv6() else ["127.0.0.1"]
        for host in hosts:
            with socket.create_connection((host, web.port), timeout=10) as sock:
                sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(sock)[1] == b"Healthy\n"
    finally:
        web.stop()


def test_stop_closes_open_connections(state: State, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    web = serve(state)
    idle = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    try:
        idle.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(idle)
        started = time.monotonic()
        web.stop()
        assert time.monotonic() - started < 5  # not the 10-second read timeout
        assert idle.recv(1) == b""
        with pytest.raises(RuntimeError, match="not started"):
            _ = web.port
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        idle.close()


def test_a_new_rendering_is_served_at_once(client: httpx.Client, state: State) -> None:
    accept = {"Accept": "application/openmetrics-text", "Accept-Encoding": "gzip"}
    state.rendered = RENDERED
    assert client.get("/metrics", headers=accept).content == RENDERED.openmetrics
    state.rendered = newer = render(exporter_families(status()))
    assert newer.openmetrics != RENDERED.openmetrics
    assert client.get("/metrics", headers=accept).content == newer.openmetrics


# --- slow work stays off the event loop -----------------------------------------------------
def test_a_bcrypt_check_does_not_hold_up_other_scrapes(state: State) -> None:
    """A password not in the cache costs a full bcrypt check; meanwhile a scraper whose
    credentials are cached is answered."""
    slow_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
    config = parse_web_config({"basic_auth_users": {"prometheus": slow_hash}}, base_dir=Path())
    state.rendered = RENDERED
    with serve(state, config) as web, httpx.Client(base_url=web.url, timeout=30) as http:
        assert http.get("/-/healthy", auth=("prometheus", PASSWORD)).status_code == 200
        with ThreadPoolExecutor(max_workers=1) as pool:
            miss = pool.submit(http.get, "/-/healthy", auth=("prometheus", "new guess"))
            time.sleep(0.05)  # the miss's bcrypt is running
            cached = http.get("/metrics", auth=("prometheus", PASSWORD))
            assert cached.status_code == 200
            assert not miss.done()
            assert miss.result().status_code == 401


def test_a_slow_landing_page_does_not_hold_up_scrapes(state: State) -> None:
    release = threading.Event()

    def slow_status() -> LandingStatus:
        release.wait(10)  # as a status() that waits for the store
        return state.landing

    state.rendered = RENDERED
    web = WebServer(
        "127.0.0.1:0",
        exposition=lambda: state.rendered,
        status=slow_status,
        ready=lambda: True,
    ).start()
    try:
        with httpx.Client(base_url=web.url, timeout=30) as http, ThreadPoolExecutor(1) as pool:
            landing = pool.submit(http.get, "/")
            assert http.get("/metrics").status_code == 200
            assert not landing.done()
            release.set()
            assert landing.result().status_code == 200
    finally:
        release.set()
        web.stop()


def test_stop_does_not_wait_for_a_stuck_landing_page(state: State) -> None:
    release = threading.Event()
    called = threading.Event()

    def stuck_status() -> LandingStatus:
        called.set()
        release.wait(10)
        return state.landing

    web = WebServer(
        "127.0.0.1:0", exposition=lambda: None, status=stuck_status, ready=lambda: False
    ).start()
    try:
        with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert called.wait(5)
            started = time.monotonic()
            web.stop()
            assert time.monotonic() - started < 5
            assert sock.recv(1) == b""  # hung up without an answer
    finally:
        release.set()
        web.stop()
