"""Where the GitHub token comes from, and how it is kept out of logs and messages.

A provider hands the client a token for each request and is told (``invalidate``) when GitHub
answered 401, so a provider that can re-read or re-mint its token gets exactly one chance to.
No provider ever puts the token in its ``repr`` or in an exception message; ``redact`` is the
last line of defence for text that might still carry one.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from healthexporter.clock import Clock, SystemClock
from healthexporter.errors import GitHubError, NotFoundError, TransientError, UnauthorizedError

REDACTED = "***"


class TokenProvider(Protocol):
    """Supplies the token for the next request. ``repr`` names the source, never the value."""

    def token(self) -> str: ...

    def invalidate(self) -> None:
        """GitHub rejected the last token (401): re-read or refresh it on the next ``token()``."""
        ...


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``.

    Longer secrets first, so a secret containing another is not left half visible.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class StaticToken:
    """A token given as a value (tests, or a caller that read it itself)."""

    def __init__(self, value: str) -> None:
        if not value.strip():
            raise UnauthorizedError("the static GitHub token is empty")
        self._value = value.strip()

    def token(self) -> str:
        return self._value

    def invalidate(self) -> None:
        """Nothing to re-read: the next request fails with the same token."""

    def __repr__(self) -> str:
        return "StaticToken(***)"


class EnvToken:
    """A token read from an environment variable (``GITHUB_TOKEN`` in most deployments)."""

    def __init__(self, var_name: str) -> None:
        self.var_name = var_name

    def token(self) -> str:
        value = os.environ.get(self.var_name, "").strip()
        if not value:
            raise UnauthorizedError(
                f"environment variable {self.var_name} is unset or empty; "
                "it must hold the GitHub token"
            )
        return value

    def invalidate(self) -> None:
        """The environment is read on every call; nothing is cached."""

    def __repr__(self) -> str:
        return f"EnvToken({self.var_name!r})"


class FileToken:
    """A token read from a file (a mounted Kubernetes secret, for instance).

    The file is re-read when its modification time changes, so a rotated secret is picked up
    without a restart. Surrounding whitespace (the trailing newline) is stripped.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._value: str | None = None
        self._mtime_ns: int | None = None

    def token(self) -> str:
        with self._lock:
            try:
                mtime_ns = self.path.stat().st_mtime_ns
                if self._value is None or mtime_ns != self._mtime_ns:
                    value = self.path.read_text(encoding="utf-8").strip()
                    if not value:
                        raise UnauthorizedError(f"GitHub token file {self.path} is empty")
                    self._value, self._mtime_ns = value, mtime_ns
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise UnauthorizedError(
                    f"cannot read GitHub token file {self.path}: {reason}"
                ) from None
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
            self._mtime_ns = None

    def __repr__(self) -> str:
        return f"FileToken({str(self.path)!r})"


class _TokenFieldFilter(logging.Filter):
    """Scrubs ``"token": "…"`` from PyGithub's DEBUG log, which prints whole response bodies,
    including the installation-token exchange's, before this module ever sees the token."""

    _TOKEN_FIELD = re.compile(r'("token"\s*:\s*")[^"]*(")')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._TOKEN_FIELD.sub(rf"\g<1>{REDACTED}\g<2>", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logging.getLogger("github.Requester").addFilter(_TokenFieldFilter())


class AppInstallationToken:
    """A GitHub App installation token, minted with the App's private key and cached.

    PyGithub signs the RS256 JWT and exchanges it at
    ``POST {api_url}/app/installations/{id}/access_tokens`` ("Authenticating as a GitHub App
    installation"); ``api_url`` makes this work on GitHub Enterprise Server. Installation tokens
    live one hour: the cached one is replaced ``refresh_margin`` (5 minutes) before its
    ``expires_at`` so no request goes out with a token about to expire.
    """

    def __init__(
        self,
        app_id: int | str,
        installation_id: int,
        private_key_path: str | Path,
        api_url: str = "https://api.github.com",
        clock: Clock | None = None,
        *,
        refresh_margin: timedelta = timedelta(minutes=5),
        timeout: float = 30.0,
    ) -> None:
        self.app_id = str(app_id)
        self.installation_id = installation_id
        self.private_key_path = Path(private_key_path)
        self.api_url = api_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()
        self._refresh_margin = refresh_margin
        self._timeout = timeout
        self._lock = threading.Lock()
        self._value: str | None = None
        self._expires_at: datetime | None = None
        self.exchanges = 0  # how many tokens were minted; tests and diagnostics read it

    @property
    def expires_at(self) -> datetime | None:
        return self._expires_at

    def token(self) -> str:
        with self._lock:
            if (
                self._value is None
                or self._expires_at is None
                or self._clock.now() >= self._expires_at - self._refresh_margin
            ):
                self._value, self._expires_at = self._exchange()
                self.exchanges += 1
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
            self._expires_at = None

    def _exchange(self) -> tuple[str, datetime]:
        # Imported here: only this provider needs PyGithub (and its requests stack).
        from github.Auth import AppAuth
        from github.GithubException import GithubException
        from github.GithubIntegration import GithubIntegration

        try:
            private_key = self.private_key_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UnauthorizedError(
                f"cannot read GitHub App private key {self.private_key_path}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        where = f"GitHub App {self.app_id} installation {self.installation_id} at {self.api_url}"
        try:
            integration = GithubIntegration(
                auth=AppAuth(self.app_id, private_key),
                base_url=self.api_url,
                timeout=max(1, round(self._timeout)),
                # The exchange is one POST an hour: PyGithub's write throttle would only add a
                # real sleep, and retries are the caller's business.
                seconds_between_requests=None,
                seconds_between_writes=None,
            )
            try:
                authorization = integration.get_access_token(self.installation_id)
            finally:
                integration.close()
        except GithubException as exc:
            status = exc.status
            if status == 401:
                raise UnauthorizedError(
                    f"{where} rejected the App JWT (401); check the App id and private key",
                    status=status,
                ) from None
            if status == 404:
                raise NotFoundError(
                    f"{where}: installation not found (404)", status=status
                ) from None
            if status is not None and status >= 500:
                raise TransientError(
                    f"{where}: token exchange failed ({status})", status=status
                ) from None
            raise GitHubError(f"{where}: token exchange failed ({status})", status=status) from None
        except OSError as exc:  # requests' ConnectionError/Timeout are OSErrors
            raise TransientError(f"{where}: token exchange failed: {type(exc).__name__}") from None
        token = authorization.token
        expires_at = authorization.expires_at
        if not isinstance(token, str) or not token or not isinstance(expires_at, datetime):
            raise TransientError(f"{where}: token exchange answered without token or expires_at")
        return token, expires_at

    def __repr__(self) -> str:
        return (
            f"AppInstallationToken(app_id={self.app_id!r}, "
            f"installation_id={self.installation_id!r}, api_url={self.api_url!r})"
        )
