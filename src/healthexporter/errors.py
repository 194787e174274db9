"""One small error hierarchy. The GitHub layer translates transport errors into these at its
boundary; sync records them per repository; the CLI turns ConfigError into exit code 2."""

from __future__ import annotations


class HealthExporterError(Exception):
    """Base of every error healthexporter raises on purpose."""


class ConfigError(HealthExporterError):
    """The configuration is invalid. ``problems`` lists every problem, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class GitHubError(HealthExporterError):
    """A GitHub request failed for good (after the retries the rules allow).

    ``reason`` is a short, bounded label usable in metrics (``errors_total{reason=…}``).
    Messages never contain the token.
    """

    reason = "github_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class UnauthorizedError(GitHubError):
    """401: the token is wrong, expired or revoked. Nothing will work until it is replaced."""

    reason = "unauthorized"


class ForbiddenError(GitHubError):
    """403 that is not a rate limit: the token lacks access (e.g. SAML, scopes)."""

    reason = "forbidden"


class NotFoundError(GitHubError):
    """The repository or organization does not exist, or the token cannot see it."""

    reason = "not_found"


class RateLimitedError(GitHubError):
    """A primary or secondary rate limit that did not clear within the allowed retries/wait, or
    a wait that would dip into the configured reserve."""

    reason = "rate_limited"

    def __init__(
        self, message: str, *, retry_at: float | None = None, status: int | None = None
    ) -> None:
        self.retry_at = retry_at  # epoch seconds when GitHub said it is worth retrying
        super().__init__(message, status=status)


class TransientError(GitHubError):
    """5xx, timeouts, resets and malformed bodies that persisted through every retry."""

    reason = "transient"


class GraphQLError(GitHubError):
    """GitHub answered with GraphQL ``errors`` the client cannot retry (e.g. validation)."""

    reason = "graphql"

    def __init__(self, message: str, *, errors: list[dict[str, object]] | None = None) -> None:
        self.errors = errors or []
        super().__init__(message)


class StoreError(HealthExporterError):
    """The store cannot be opened or written (read-only path, disk full, newer schema)."""
