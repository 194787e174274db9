"""The web configuration file: TLS, basic auth and response headers for the HTTP server.

The format is the Prometheus exporter-toolkit's (``--web.config.file`` of node_exporter and
friends), so one file and one habit serve every exporter on a host::

    tls_server_config:
      cert_file: server.crt            # relative paths: relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt
      min_version: TLS12
    http_server_config:
      headers:
        X-Content-Type-Options: nosniff
    basic_auth_users:
      prometheus: $2b$12$...           # bcrypt hash (htpasswd -nBC 12 "" | tr -d ':\\n')

Everything is checked at load time, and every problem is reported at once (ConfigError),
including certificates that do not load and hashes that are not bcrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from healthexporter.errors import ConfigError

__all__ = ["CredentialCache", "TLSConfig", "WebConfig", "load_web_config"]

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# exporter-toolkit's client_auth_type values. Python's ssl verifies every client certificate it
# asks for, so Go's "ask but do not verify" policies have no equivalent here.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
# exporter-toolkit fields that have no meaning with Python's ssl module
_UNSUPPORTED_TLS = (
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
    "cert",
    "key",
)
_TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
)
# exporter-toolkit allows only these response headers to be set
_HEADERS = (
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
)
_BCRYPT = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
# A valid hash of a random password, checked when the user is unknown, so that an unknown user
# costs the same bcrypt round as a wrong password (exporter-toolkit does the same).
_DUMMY_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
_BCRYPT_MAX_BYTES = 72  # bcrypt only ever reads the first 72 bytes of a password


@dataclass(frozen=True)
class TLSConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side context; raises ssl.SSLError/OSError when a file does not load."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version is not None:
            context.maximum_version = _TLS_VERSIONS[self.max_version]
        context.load_cert_chain(self.cert_file, self.key_file)
        context.verify_mode = _CLIENT_AUTH[self.client_auth_type]
        if self.client_ca_file is not None:
            context.load_verify_locations(cafile=self.client_ca_file)
        return context


class CredentialCache:
    """Results of recent bcrypt checks, keyed on (user, SHA-256 of the password).

    bcrypt is slow on purpose (tens of milliseconds); Prometheus scrapes with the same
    credentials every time, so without a cache every scrape would pay for it. The password
    itself is never kept.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._results: OrderedDict[tuple[str, bytes], bool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, bytes]) -> bool | None:
        with self._lock:
            result = self._results.get(key)
            if result is not None:
                self._results.move_to_end(key)
            return result

    def put(self, key: tuple[str, bytes], result: bool) -> None:
        with self._lock:
            self._results[key] = result
            self._results.move_to_end(key)
            while len(self._results) > self._size:
                self._results.popitem(last=False)


@dataclass(frozen=True)
class WebConfig:
    """The loaded web configuration. ``WebConfig()`` is plain HTTP without auth."""

    tls: TLSConfig | None = None
    basic_auth_users: Mapping[str, bytes] = field(default_factory=dict)  # user → bcrypt hash
    headers: Mapping[str, str] = field(default_factory=dict)
    _context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    _cache: CredentialCache = field(default_factory=CredentialCache, repr=False, compare=False)

    @property
    def auth_required(self) -> bool:
        return bool(self.basic_auth_users)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (built and checked at load), or None for plain HTTP."""
        if self.tls is None:
            return None
        return self._context if self._context is not None else self.tls.ssl_context()

    def check_basic_auth(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the credentials of a configured user.

        True when no users are configured. An unknown user, a malformed header and a wrong
        password all cost one bcrypt check (or one cache hit), so timing tells nothing apart.
        """
        if not self.basic_auth_users:
            return True
        credentials = _parse_basic(header)
        if credentials is None:
            user, password = "", b""
        else:
            user, password = credentials
        key = (user, hashlib.sha256(password).digest())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        stored = self.basic_auth_users.get(user)
        try:
            matches = bcrypt.checkpw(password[:_BCRYPT_MAX_BYTES], stored or _DUMMY_HASH)
        except ValueError:  # hashes are checked at load; defensive only
            matches = False
        result = matches and stored is not None and credentials is not None
        self._cache.put(key, result)
        return result


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    """``Basic base64(user:password)`` (RFC 7617) → (user, password bytes); None if malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    raw_user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return raw_user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


# --- loading --------------------------------------------------------------------------------
def load_web_config(path: str | Path) -> WebConfig:
    """Read and check a web configuration file; every problem is reported in one ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the web config: {exc}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    return parse_web_config(raw, base_dir=path.parent, source=str(path))


def parse_web_config(raw: Any, *, base_dir: Path, source: str = "web config") -> WebConfig:
    """Check already-parsed YAML; relative file names are relative to ``base_dir``."""
    problems: list[str] = []
    if raw is None:
        return WebConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{source}: expected a mapping at the top level"])
    for key in raw:
        if key not in ("tls_server_config", "basic_auth_users", "http_server_config"):
            problems.append(
                f"{source}: unknown key {key!r} (expected tls_server_config, basic_auth_users, "
                "http_server_config)"
            )
    tls = _tls(raw.get("tls_server_config"), base_dir, problems)
    users = _users(raw.get("basic_auth_users"), problems)
    headers = _headers(raw.get("http_server_config"), problems)
    context: ssl.SSLContext | None = None
    if tls is not None and not problems:
        try:
            context = tls.ssl_context()
        except (ssl.SSLError, OSError, ValueError) as exc:
            problems.append(
                f"tls_server_config: cannot load the certificate, key or client CA: {exc}"
            )
    if problems:
        raise ConfigError([p if p.startswith(source) else f"{source}: {p}" for p in problems])
    return WebConfig(tls=tls, basic_auth_users=users, headers=headers, _context=context)


def _mapping(value: Any, key: str, problems: list[str]) -> Mapping[Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(f"{key}: expected a mapping")
        return None
    return value


def _file(section: Mapping[Any, Any], key: str, base_dir: Path, problems: list[str]) -> Path | None:
    value = section.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"tls_server_config.{key}: expected a file name")
        return None
    path = Path(value) if Path(value).is_absolute() else base_dir / value
    if not path.is_file():
        problems.append(f"tls_server_config.{key}: {path} does not exist or is not a file")
    return path


def _tls(value: Any, base_dir: Path, problems: list[str]) -> TLSConfig | None:
    section = _mapping(value, "tls_server_config", problems)
    if section is None:
        return None
    for key in section:
        if key in _UNSUPPORTED_TLS:
            problems.append(f"tls_server_config.{key}: not supported by healthexporter")
        elif key not in _TLS_KEYS:
            problems.append(
                f"tls_server_config: unknown key {key!r} (expected one of {', '.join(_TLS_KEYS)})"
            )
    cert_file = _file(section, "cert_file", base_dir, problems)
    key_file = _file(section, "key_file", base_dir, problems)
    ca_file = _file(section, "client_ca_file", base_dir, problems)
    if cert_file is None:
        problems.append("tls_server_config.cert_file: missing")
    if key_file is None:
        problems.append("tls_server_config.key_file: missing")
    auth = section.get("client_auth_type") or "NoClientCert"
    if auth in _UNVERIFIED_CLIENT_AUTH:
        problems.append(
            f"tls_server_config.client_auth_type: {auth} is not supported (Python verifies "
            "every client certificate it asks for): use VerifyClientCertIfGiven or "
            "RequireAndVerifyClientCert"
        )
    elif auth not in _CLIENT_AUTH:
        problems.append(
            f"tls_server_config.client_auth_type: unknown value {auth!r} (expected one of "
            f"{', '.join(_CLIENT_AUTH)})"
        )
    elif auth == "NoClientCert" and ca_file is not None:
        problems.append(
            "tls_server_config.client_ca_file is set but client_auth_type is NoClientCert: "
            "set client_auth_type to VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )
    elif auth != "NoClientCert" and ca_file is None:
        problems.append(f"tls_server_config.client_ca_file: missing (needed by {auth})")
    versions: dict[str, str | None] = {}
    for key, default in (("min_version", "TLS12"), ("max_version", None)):
        version = section.get(key) or default
        if version is not None and version not in _TLS_VERSIONS:
            problems.append(
                f"tls_server_config.{key}: unknown value {version!r} (expected one of "
                f"{', '.join(_TLS_VERSIONS)})"
            )
            version = default
        versions[key] = version
    minimum, maximum = versions["min_version"] or "TLS12", versions["max_version"]
    if maximum is not None and _TLS_VERSIONS[maximum] < _TLS_VERSIONS[minimum]:
        problems.append(f"tls_server_config: max_version {maximum} is below min_version {minimum}")
    if cert_file is None or key_file is None or not isinstance(auth, str):
        return None
    return TLSConfig(
        cert_file=cert_file,
        key_file=key_file,
        client_auth_type=auth if auth in _CLIENT_AUTH else "NoClientCert",
        client_ca_file=ca_file,
        min_version=minimum,
        max_version=maximum,
    )


def _users(value: Any, problems: list[str]) -> dict[str, bytes]:
    section = _mapping(value, "basic_auth_users", problems)
    users: dict[str, bytes] = {}
    for user, hashed in (section or {}).items():
        where = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"{where}: a user name is a non-empty string without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            problems.append(
                f"{where}: not a bcrypt hash (expected $2a$/$2b$/$2y$, cost and 53 characters; "
                "e.g. from htpasswd -nBC 12)"
            )
        else:
            users[user] = hashed.encode("ascii")
    return users


def _headers(value: Any, problems: list[str]) -> dict[str, str]:
    section = _mapping(value, "http_server_config", problems)
    headers: dict[str, str] = {}
    if section is None:
        return headers
    for key in section:
        if key not in ("headers", "http2"):
            problems.append(f"http_server_config: unknown key {key!r} (expected headers, http2)")
    if "http2" in section and not isinstance(section["http2"], bool):
        problems.append("http_server_config.http2: expected true or false")
    allowed = {name.lower(): name for name in _HEADERS}
    for name, header_value in (_mapping(section.get("headers"), "headers", problems) or {}).items():
        where = f"http_server_config.headers.{name}"
        canonical = allowed.get(str(name).lower())
        if canonical is None:
            problems.append(f"{where}: this header cannot be set (allowed: {', '.join(_HEADERS)})")
        elif not isinstance(header_value, str) or any(c in header_value for c in "\r\n"):
            problems.append(f"{where}: expected a one-line string")
        else:
            headers[canonical] = header_value
    return headers
