"""The configuration tree: frozen pydantic models, one per section, checked when built (from a
file or in code)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    WrapSerializer,
    field_validator,
    model_validator,
)

from healthexporter.config.health import (
    AffiliationsConfig,
    HealthConfig,
    no_maintainers_problem,
)
from healthexporter.config.values import (
    URL,
    Duration,
    EnvVarName,
    Glob,
    ListenAddress,
    Login,
    OwnerName,
    PositiveDuration,
    ProjectName,
    ReadableFile,
    Regex,
    RepositoryName,
    Section,
    StorePath,
    at_least,
    format_duration,
    non_empty,
)
from healthexporter.github.endpoints import derive_graphql_url

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
DEFAULT_LISTEN_ADDRESS = ":9935"


# ---------------------------------------------------------------------------------------------
# Checks across fields. Each runs twice: in the model (so a Config built in code is checked
# too) and on the raw data (so it is reported even when another field of the same section is
# broken, which stops pydantic before the model check). Identical messages are reported once.

EMPTY_PROJECT = "a project needs repositories or orgs (or both)"


def token_source_problem(found: list[str]) -> str | None:
    if len(found) > 1:
        return f"set exactly one of token_env, token_file, app (found {' and '.join(found)})"
    return None


def sync_problem(poll: timedelta, jitter: timedelta, reconcile: timedelta) -> str | None:
    if jitter >= poll:
        return (
            f"jitter ({format_duration(jitter)}) must be shorter than poll_interval "
            f"({format_duration(poll)})"
        )
    if reconcile < poll:
        return (
            f"reconcile_interval ({format_duration(reconcile)}) must not be shorter than "
            f"poll_interval ({format_duration(poll)})"
        )
    return None


# ---------------------------------------------------------------------------------------------
# The configuration tree.


class AppConfig(Section):
    """A GitHub App installation: the exporter mints its own short-lived tokens."""

    id: Annotated[StrictInt, Field(ge=1)]
    installation_id: Annotated[StrictInt, Field(ge=1)]
    private_key_file: ReadableFile


class ReserveConfig(Section):
    """Rate-limit units of each bucket the exporter leaves for other users of the token."""

    graphql: Annotated[StrictInt, Field(ge=0)] = 200
    core: Annotated[StrictInt, Field(ge=0)] = 200

    def as_dict(self) -> dict[str, int]:
        """The shape ``GitHubClient(reserve=…)`` takes."""
        return {"graphql": self.graphql, "core": self.core}


TOKEN_SOURCES = ("token_env", "token_file", "app")


class GitHubConfig(Section):
    api_url: URL = DEFAULT_API_URL
    graphql_url: URL | None = None
    token_env: EnvVarName | None = None
    token_file: ReadableFile | None = None
    app: AppConfig | None = None
    max_concurrency: Annotated[StrictInt, Field(ge=1, le=32)] = 4
    reserve: ReserveConfig = ReserveConfig()
    timeout: PositiveDuration = timedelta(seconds=30)
    max_retries: Annotated[StrictInt, Field(ge=0, le=20)] = 5
    max_wait: Duration = timedelta(minutes=15)

    @model_validator(mode="before")
    @classmethod
    def _default_token_source(cls, data: Any) -> Any:
        # No source at all means the documented default, $GITHUB_TOKEN.
        if isinstance(data, dict) and all(data.get(key) is None for key in TOKEN_SOURCES):
            return {**data, "token_env": DEFAULT_TOKEN_ENV}
        return data

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        problem = token_source_problem([k for k in TOKEN_SOURCES if getattr(self, k) is not None])
        if problem:
            raise ValueError(problem)
        return self

    @property
    def graphql_endpoint(self) -> str:
        """``graphql_url`` if set, else derived from ``api_url``."""
        return self.graphql_url or derive_graphql_url(self.api_url)

    @property
    def token_source(self) -> Literal["env", "file", "app"]:
        if self.app is not None:
            return "app"
        if self.token_file is not None:
            return "file"
        return "env"


class OrgConfig(Section):
    """Every repository of an organization that passes the filters."""

    name: OwnerName
    include: tuple[Glob, ...] = ("*",)
    exclude: tuple[Glob, ...] = ()
    archived: StrictBool = False
    forks: StrictBool = False


class ProjectConfig(Section):
    repositories: tuple[RepositoryName, ...] = ()
    orgs: tuple[OrgConfig, ...] = ()
    maintainers: tuple[Login, ...] = ()

    @field_validator("orgs", mode="before")
    @classmethod
    def _org_shorthand(cls, value: Any) -> Any:
        # `orgs: [kube-rs]` is short for `orgs: [{name: kube-rs}]`.
        if isinstance(value, list):
            return [{"name": entry} if isinstance(entry, str) else entry for entry in value]
        return value

    @model_validator(mode="after")
    def _has_sources(self) -> Self:
        if not self.repositories and not self.orgs:
            raise ValueError(EMPTY_PROJECT)
        return self


class StorageConfig(Section):
    path: StorePath = Field(default=Path("healthexporter.db"), validate_default=True)


class SyncConfig(Section):
    poll_interval: Annotated[Duration, at_least(timedelta(minutes=1), "1m")] = timedelta(minutes=15)
    jitter: Duration = timedelta(seconds=30)
    overlap: Duration = timedelta(minutes=5)
    reconcile_interval: PositiveDuration = timedelta(days=7)
    page_size: Annotated[StrictInt, Field(ge=1, le=100)] = 100
    timeline_page_size: Annotated[StrictInt, Field(ge=1, le=100)] = 100
    profile_refresh: PositiveDuration = timedelta(days=30)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problem = sync_problem(self.poll_interval, self.jitter, self.reconcile_interval)
        if problem:
            raise ValueError(problem)
        return self


class BotsConfig(Section):
    """Additions to the shipped bot list (see ``healthexporter.bots``)."""

    logins: tuple[Login, ...] = ()
    patterns: tuple[Regex, ...] = ()  # Python regular expressions, searched, case-insensitive
    not_bots: tuple[Login, ...] = ()


class WebConfig(Section):
    listen_address: ListenAddress = DEFAULT_LISTEN_ADDRESS
    config_file: ReadableFile | None = None


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


_SECTIONS = ("github", "storage", "sync", "bots", "web", "logging", "health", "affiliations")


class Config(Section):
    """The whole configuration. Build it with ``load_config`` or ``parse_config``."""

    github: GitHubConfig = Field(default_factory=GitHubConfig)
    projects: Annotated[
        Mapping[ProjectName, ProjectConfig],
        AfterValidator(non_empty),
        WrapSerializer(lambda projects, handler: handler(dict(projects))),
    ]
    storage: StorageConfig = Field(default_factory=StorageConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    bots: BotsConfig = Field(default_factory=BotsConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    affiliations: AffiliationsConfig = Field(default_factory=AffiliationsConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `bots:` with nothing under it means "all defaults", like leaving it out; filling it
        # in here also makes defaults pass validation (relative paths, files).
        if not isinstance(data, dict):
            return data
        data = {**data, **{key: {} for key in _SECTIONS if data.get(key) is None}}
        projects = data.get("projects")
        if isinstance(projects, dict):
            data["projects"] = {name: {} if p is None else p for name, p in projects.items()}
        return data

    @model_validator(mode="after")
    def _responders_have_maintainers(self) -> Self:
        maintainers = sum(len(project.maintainers) for project in self.projects.values())
        problem = no_maintainers_problem(self.health.responders, maintainers)
        if problem:
            raise ValueError(problem)
        return self

    def repositories(self) -> list[tuple[str, str]]:
        """``(project, "owner/name")`` for every explicitly listed repository."""
        return [
            (name, repo) for name, project in self.projects.items() for repo in project.repositories
        ]

    def orgs(self) -> list[tuple[str, OrgConfig]]:
        """``(project, org)`` for every organization to expand."""
        return [(name, org) for name, project in self.projects.items() for org in project.orgs]
