"""The configuration: one YAML file, read once into typed, frozen values.

Why both PyYAML's node tree and pydantic: pydantic reports every shape and type problem at once,
and the composed node tree (which ``yaml.safe_load`` throws away) knows the line of every key, so
each problem reads ``projects.kube-rs.repositories[1] (line 7): "kube-rs" is not owner/name``.
The node tree also catches what PyYAML accepts silently: a key written twice.

The configuration never holds a secret. It names where a token lives (an environment variable,
a file, a GitHub App key file) and only checks that files exist and are readable; the GitHub
layer reads them when it needs them, so rotated files are picked up.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    WrapSerializer,
    field_validator,
    model_validator,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from healthexporter.errors import ConfigError
from healthexporter.github.endpoints import derive_graphql_url

__all__ = [
    "AppConfig",
    "BotsConfig",
    "Config",
    "GitHubConfig",
    "LoggingConfig",
    "OrgConfig",
    "ProjectConfig",
    "ReserveConfig",
    "StorageConfig",
    "SyncConfig",
    "WebConfig",
    "derive_graphql_url",
    "load_config",
    "parse_config",
    "parse_duration",
]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
DEFAULT_LISTEN_ADDRESS = ":9935"

# ---------------------------------------------------------------------------------------------
# Value types: each one checks its own syntax and says what a good value looks like.


_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"``, ``"2w"`` or integer seconds.

    The units (and their order) are Prometheus's, so the same habits work in both files.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"bad duration {value}: must not be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match is not None and any(match.groups()):
            weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            try:
                return timedelta(
                    weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds
                )
            except OverflowError:
                raise ValueError(f"bad duration '{value}': too long") from None
        raise ValueError(f"bad duration '{value}': use e.g. 30s, 5m, 1h, 7d")
    raise ValueError(f"bad duration {_describe(value)}: use e.g. 30s, 5m, 1h, 7d")


def _at_least(minimum: timedelta, label: str) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"must be at least {label}, got {_format_duration(value)}")
        return value

    return AfterValidator(check)


def _format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[Duration, _at_least(timedelta(seconds=1), "1s")]

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# GitHub token prefixes ("Behind GitHub's new authentication token formats", 2021).
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")


def _check_env_var(value: str) -> str:
    if value.startswith(_TOKEN_PREFIXES):
        # Never echo it: it is probably the token itself.
        raise ValueError(
            "this looks like a token, not the name of an environment variable; "
            "put the token in the environment and name the variable here"
        )
    if not _ENV_VAR.fullmatch(value):
        raise ValueError(
            f"{_quote(value)} is not an environment variable name (letters, digits, '_')"
        )
    return value


EnvVarName = Annotated[StrictStr, AfterValidator(_check_env_var)]


def _check_url(value: str) -> str:
    hint = "use an http(s) URL such as https://api.github.com or https://HOST/api/v3"
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ValueError(f"bad URL {_quote(value)}: {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad URL {_quote(value)}: {hint}")
    if parts.query or parts.fragment:
        raise ValueError(f"bad URL {_quote(value)}: no query or fragment allowed")
    return value.rstrip("/")


URL = Annotated[StrictStr, AfterValidator(_check_url)]

# GitHub: owners are letters, digits and '-' (Enterprise Managed Users add '_shortcode');
# repository names are letters, digits, '-', '_' and '.'.
_OWNER = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_REPO_NAME = r"[A-Za-z0-9_.-]{1,100}"
_REPOSITORY = re.compile(rf"({_OWNER})/({_REPO_NAME})")
_GITHUB_URL = re.compile(rf"https?://[^/]+/({_OWNER}/{_REPO_NAME}?)(?:\.git)?/?")
_LOGIN = re.compile(rf"{_OWNER}(?:\[bot\])?")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _check_repository(value: str) -> str:
    match = _REPOSITORY.fullmatch(value)
    if match is None or match.group(2) in (".", ".."):
        url = _GITHUB_URL.fullmatch(value)
        if url is not None:
            raise ValueError(f"{_quote(value)} is not owner/name (did you mean {url.group(1)}?)")
        raise ValueError(f"{_quote(value)} is not owner/name")
    return value


def _check_owner(value: str) -> str:
    if not re.fullmatch(_OWNER, value):
        raise ValueError(f"{_quote(value)} is not an organization name (letters, digits, '-', '_')")
    return value


def _check_login(value: str) -> str:
    if not _LOGIN.fullmatch(value):
        raise ValueError(f"{_quote(value)} is not a GitHub login (letters, digits, '-', '_')")
    return value


def _check_project_name(value: str) -> str:
    if not _PROJECT_NAME.fullmatch(value):
        raise ValueError(f"bad project name {_quote(value)}: use letters, digits, '_', '.', '-'")
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"bad regular expression {_quote(value)}: {error}") from None
    return value


def _check_glob(value: str) -> str:
    if not value:
        raise ValueError("empty pattern: use e.g. '*' or 'kube-*'")
    return value


def _check_listen_address(value: str) -> str:
    hint = 'use host:port, e.g. ":9935" or "127.0.0.1:9935"'
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"bad listen address {_quote(value)}: {hint}")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"bad listen address {_quote(value)}: {hint}") from None
    elif host and not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ValueError(f"bad listen address {_quote(value)}: {hint} (IPv6 in [brackets])")
    return value


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, Mapping) else {}
    base = context.get("base_dir")
    return Path(base) if base is not None else Path.cwd()


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the configuration file's directory (as in Prometheus),
    so a configuration means the same whatever the working directory."""
    return value if value.is_absolute() else _base_dir(info) / value


def _readable_file(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value.expanduser(), info)
    if not path.exists():
        raise ValueError(f"file {_quote(str(path))} does not exist")
    if not path.is_file():
        raise ValueError(f"{_quote(str(path))} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"file {_quote(str(path))} is not readable")
    return path


def _writable_location(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value.expanduser(), info)
    if path.is_dir():
        raise ValueError(f"{_quote(str(path))} is a directory; name a file in it")
    if not path.parent.is_dir():
        raise ValueError(f"directory {_quote(str(path.parent))} does not exist")
    return path


def _non_empty(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not value:
        raise ValueError("at least one project is required")
    return MappingProxyType(dict(value))


OwnerName = Annotated[StrictStr, AfterValidator(_check_owner)]
RepositoryName = Annotated[StrictStr, AfterValidator(_check_repository)]
Login = Annotated[StrictStr, AfterValidator(_check_login)]
ProjectName = Annotated[StrictStr, AfterValidator(_check_project_name)]
Regex = Annotated[StrictStr, AfterValidator(_check_regex)]
Glob = Annotated[StrictStr, AfterValidator(_check_glob)]
ReadableFile = Annotated[Path, AfterValidator(_readable_file)]
StorePath = Annotated[Path, AfterValidator(_writable_location)]
ListenAddress = Annotated[StrictStr, AfterValidator(_check_listen_address)]


# ---------------------------------------------------------------------------------------------
# Checks across fields. Each runs twice: in the model (so a Config built in code is checked
# too) and on the raw data (so it is reported even when another field of the same section is
# broken, which stops pydantic before the model check). Identical messages are reported once.

_EMPTY_PROJECT = "a project needs repositories or orgs (or both)"


def _token_source_problem(found: list[str]) -> str | None:
    if len(found) > 1:
        return f"set exactly one of token_env, token_file, app (found {' and '.join(found)})"
    return None


def _sync_problem(poll: timedelta, jitter: timedelta, reconcile: timedelta) -> str | None:
    if jitter >= poll:
        return (
            f"jitter ({_format_duration(jitter)}) must be shorter than poll_interval "
            f"({_format_duration(poll)})"
        )
    if reconcile < poll:
        return (
            f"reconcile_interval ({_format_duration(reconcile)}) must not be shorter than "
            f"poll_interval ({_format_duration(poll)})"
        )
    return None


# ---------------------------------------------------------------------------------------------
# The configuration tree.


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppConfig(_Section):
    """A GitHub App installation: the exporter mints its own short-lived tokens."""

    id: Annotated[StrictInt, Field(ge=1)]
    installation_id: Annotated[StrictInt, Field(ge=1)]
    private_key_file: ReadableFile


class ReserveConfig(_Section):
    """Rate-limit units of each bucket the exporter leaves for other users of the token."""

    graphql: Annotated[StrictInt, Field(ge=0)] = 200
    core: Annotated[StrictInt, Field(ge=0)] = 200

    def as_dict(self) -> dict[str, int]:
        """The shape ``GitHubClient(reserve=…)`` takes."""
        return {"graphql": self.graphql, "core": self.core}


_TOKEN_SOURCES = ("token_env", "token_file", "app")


class GitHubConfig(_Section):
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
        if isinstance(data, dict) and all(data.get(key) is None for key in _TOKEN_SOURCES):
            return {**data, "token_env": DEFAULT_TOKEN_ENV}
        return data

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        problem = _token_source_problem([k for k in _TOKEN_SOURCES if getattr(self, k) is not None])
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


class OrgConfig(_Section):
    """Every repository of an organization that passes the filters."""

    name: OwnerName
    include: tuple[Glob, ...] = ("*",)
    exclude: tuple[Glob, ...] = ()
    archived: StrictBool = False
    forks: StrictBool = False


class ProjectConfig(_Section):
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
            raise ValueError(_EMPTY_PROJECT)
        return self


class StorageConfig(_Section):
    path: StorePath = Field(default=Path("healthexporter.db"), validate_default=True)


class SyncConfig(_Section):
    poll_interval: Annotated[Duration, _at_least(timedelta(minutes=1), "1m")] = timedelta(
        minutes=15
    )
    jitter: Duration = timedelta(seconds=30)
    overlap: Duration = timedelta(minutes=5)
    reconcile_interval: PositiveDuration = timedelta(days=7)
    page_size: Annotated[StrictInt, Field(ge=1, le=100)] = 100
    timeline_page_size: Annotated[StrictInt, Field(ge=1, le=100)] = 100
    profile_refresh: PositiveDuration = timedelta(days=30)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problem = _sync_problem(self.poll_interval, self.jitter, self.reconcile_interval)
        if problem:
            raise ValueError(problem)
        return self


class BotsConfig(_Section):
    """Additions to the shipped bot list (see ``healthexporter.bots``)."""

    logins: tuple[Login, ...] = ()
    patterns: tuple[Regex, ...] = ()  # Python regular expressions, searched, case-insensitive
    not_bots: tuple[Login, ...] = ()


class WebConfig(_Section):
    listen_address: ListenAddress = DEFAULT_LISTEN_ADDRESS
    config_file: ReadableFile | None = None


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


_SECTIONS = ("github", "storage", "sync", "bots", "web", "logging")


class Config(_Section):
    """The whole configuration. Build it with ``load_config`` or ``parse_config``."""

    github: GitHubConfig = Field(default_factory=GitHubConfig)
    projects: Annotated[
        Mapping[ProjectName, ProjectConfig],
        AfterValidator(_non_empty),
        WrapSerializer(lambda projects, handler: handler(dict(projects))),
    ]
    storage: StorageConfig = Field(default_factory=StorageConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    bots: BotsConfig = Field(default_factory=BotsConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

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

    def repositories(self) -> list[tuple[str, str]]:
        """``(project, "owner/name")`` for every explicitly listed repository."""
        return [
            (name, repo) for name, project in self.projects.items() for repo in project.repositories
        ]

    def orgs(self) -> list[tuple[str, OrgConfig]]:
        """``(project, org)`` for every organization to expand."""
        return [(name, org) for name, project in self.projects.items() for org in project.orgs]


# ---------------------------------------------------------------------------------------------
# Loading: YAML → node tree (lines, duplicate keys) → data → pydantic → problems with lines.

_Path = tuple[str | int, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; relative paths in it are relative to its
    directory. Raises ``ConfigError`` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the configuration: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text ({error.reason})"]) from None
    return parse_config(text, str(path), base_dir=path.parent.absolute())


def parse_config(text: str, source: str = "<string>", *, base_dir: Path | None = None) -> Config:
    """Validate configuration text. ``base_dir`` anchors relative paths (default: the working
    directory). Raises ``ConfigError`` listing every problem, in file order."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        problems = _duplicate_keys(root) if root is not None else []
        if root is None:
            raise ConfigError([f"{source}: the configuration is empty (projects are required)"])
        if not isinstance(root, MappingNode):
            raise ConfigError(
                [
                    f"top level (line {_line(root)}): expected a mapping of settings, "
                    f"got {_node_kind(root)}"
                ]
            )
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_yaml_problem(error, source)]) from None
    except yaml.YAMLError as error:  # pragma: no cover - PyYAML marks its errors
        raise ConfigError([f"{source}: YAML error: {error}"]) from None
    finally:
        loader.dispose()

    lines = _LineIndex(root)
    config: Config | None = None
    context = {"base_dir": base_dir if base_dir is not None else Path.cwd()}
    cross_messages: set[str] = set()
    problems += _cross_checks(data, lines, cross_messages)
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as error:
        problems += [
            _pydantic_problem(detail, lines)
            for detail in error.errors()
            if str(detail["msg"]).removeprefix("Value error, ") not in cross_messages
        ]
    if problems or config is None:
        ordered = sorted(problems, key=lambda problem: problem[0])  # stable: file order
        raise ConfigError(list(dict.fromkeys(message for _, message in ordered)))
    return config


def _yaml_problem(error: yaml.MarkedYAMLError, source: str) -> str:
    mark = error.problem_mark or error.context_mark
    what = error.problem or error.context or "invalid YAML"
    if error.context and error.problem and error.problem.startswith("but "):
        what = f"{error.context}, {error.problem}"  # "expected a single document…, but found…"
    elif (
        error.context
        and error.context_mark
        and error.problem_mark
        and error.context_mark.line != error.problem_mark.line
    ):
        what += f" ({error.context} at line {error.context_mark.line + 1})"  # the open bracket
    if mark is None:  # pragma: no cover
        return f"{source}: YAML syntax error: {what}"
    return f"{source} (line {mark.line + 1}, column {mark.column + 1}): YAML syntax error: {what}"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return f"the scalar {_quote(str(node.value))}"


class _LineIndex:
    """The line of every key (for mapping entries) and item (for list entries), by path."""

    def __init__(self, root: Node) -> None:
        self._lines: dict[_Path, int] = {(): _line(root)}
        self._walk(root, (), set())

    def _walk(self, node: Node, path: _Path, active: set[int]) -> None:
        if id(node) in active:  # a recursive alias
            return
        active.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    child = (*path, str(key.value))
                    self._lines.setdefault(child, _line(key))
                    self._walk(value, child, active)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                self._lines.setdefault(child, _line(item))
                self._walk(item, child, active)
        active.discard(id(node))

    def find(self, path: _Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that is in the file (a missing key
        is reported at its parent). None for the top level."""
        key = tuple(part if isinstance(part, int) else str(part) for part in path)
        while key:
            if key in self._lines:
                return self._lines[key]
            as_text = tuple(str(part) for part in key)  # a mapping key YAML read as a number
            if as_text in self._lines:
                return self._lines[as_text]
            key = key[:-1]
        return None


def _problem(path: _Path, message: str, lines: _LineIndex) -> tuple[int, str]:
    line = lines.find(path)
    where = _dotted(path) or "top level"
    if line is None:
        return (0, f"{where}: {message}")
    return (line, f"{where} (line {line}): {message}")


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(path: _Path) -> str:
    """``projects.kube-rs.repositories[1]``; keys with dots or spaces as ``["a.b"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _SIMPLE_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _walk_mappings(node: Node, path: _Path, seen: set[int]) -> Iterator[tuple[MappingNode, _Path]]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        yield node, path
        for key, value in node.value:
            label: str | int = str(key.value) if isinstance(key, ScalarNode) else "?"
            yield from _walk_mappings(value, (*path, label), seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk_mappings(item, (*path, index), seen)


def _duplicate_keys(root: Node) -> list[tuple[int, str]]:
    """Keys written twice in one mapping. PyYAML keeps the last one silently; a forgotten
    earlier entry is almost always a mistake."""
    problems = []
    for mapping, path in _walk_mappings(root, (), set()):
        first: dict[tuple[str, str], int] = {}
        for key, _ in mapping.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            ident = (key.tag, key.value)
            if ident in first:
                line = _line(key)
                problems.append(
                    (
                        line,
                        f"{_dotted((*path, key.value))} (line {line}): duplicate key "
                        f"(first at line {first[ident]})",
                    )
                )
            else:
                first[ident] = _line(key)
    return problems


def _cross_checks(
    data: dict[Any, Any], lines: _LineIndex, messages: set[str]
) -> list[tuple[int, str]]:
    """The checks across fields, on the raw data; ``messages`` collects their bare messages so
    that the same problem is not reported again from the model validators."""
    problems: list[tuple[int, str]] = []
    github = data.get("github")
    if isinstance(github, dict):
        found = [key for key in _TOKEN_SOURCES if github.get(key) is not None]
        problem = _token_source_problem(found)
        if problem:
            # Point at the source written last: that is where the reader decides which stays.
            last = max(found, key=lambda key: lines.find(("github", key)) or 0)
            problems.append(_problem(("github", last), problem, lines))
            messages.add(problem)
    sync = data.get("sync")
    if isinstance(sync, dict):
        try:
            durations = [
                parse_duration(sync.get(key, SyncConfig.model_fields[key].default))
                for key in ("poll_interval", "jitter", "reconcile_interval")
            ]
        except ValueError:
            pass  # reported by the field itself
        else:
            problem = _sync_problem(*durations)
            if problem:
                problems.append(_problem(("sync",), problem, lines))
                messages.add(problem)
    projects = data.get("projects")
    if isinstance(projects, dict):
        for name, project in projects.items():
            if project is None or (
                isinstance(project, dict)
                and not project.get("repositories")
                and not project.get("orgs")
            ):
                problems.append(_problem(("projects", name), _EMPTY_PROJECT, lines))
                messages.add(_EMPTY_PROJECT)
        problems += _duplicate_entries(projects, lines)
    return problems


def _duplicate_entries(projects: dict[Any, Any], lines: _LineIndex) -> list[tuple[int, str]]:
    """A repository listed twice (in one project or across projects), or an organization
    listed twice in one project: metrics would count its items twice."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, _Path] = {}
    for name, project in projects.items():
        if not isinstance(project, dict):
            continue
        repositories = project.get("repositories")
        for index, repo in enumerate(repositories if isinstance(repositories, list) else []):
            if not isinstance(repo, str):
                continue
            path: _Path = ("projects", name, "repositories", index)
            first = seen.setdefault(repo.lower(), path)
            if first != path:
                problems.append(_already(path, repo, first, lines))
        orgs = project.get("orgs")
        seen_orgs: dict[str, _Path] = {}
        for index, org in enumerate(orgs if isinstance(orgs, list) else []):
            org_name = org.get("name") if isinstance(org, dict) else org
            if not isinstance(org_name, str):
                continue
            path = ("projects", name, "orgs", index)
            first = seen_orgs.setdefault(org_name.lower(), path)
            if first != path:
                problems.append(_already(path, org_name, first, lines))
    return problems


def _already(path: _Path, value: str, first: _Path, lines: _LineIndex) -> tuple[int, str]:
    first_line = lines.find(first)
    where = _dotted(first) + (f" (line {first_line})" if first_line is not None else "")
    return _problem(path, f"{_quote(value)} is already listed at {where}", lines)


_TYPE_MESSAGES = {
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "mapping_type": "expected a mapping",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "path_type": "expected a path (a string)",
}


def _pydantic_problem(detail: Any, lines: _LineIndex) -> tuple[int, str]:
    loc: _Path = tuple(detail["loc"])
    kind: str = detail["type"]
    value = detail.get("input")
    if loc and loc[-1] == "[key]":  # a mapping key failed (a project name)
        loc = loc[:-1]
        if kind == "string_type":
            return _problem(loc, f"keys must be strings, got {_describe(value)} (quote it)", lines)
    if kind == "extra_forbidden":
        return _problem(loc, _unknown_key(loc), lines)
    if kind == "missing":
        return _problem(loc, "missing required key", lines)
    message: str = detail["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind in _TYPE_MESSAGES:
        message = f"{_TYPE_MESSAGES[kind]}, got {_describe(value)}"
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {_describe(value)}"
    return _problem(loc, message, lines)


def _unknown_key(loc: _Path) -> str:
    key = str(loc[-1])
    if loc[:-1] == ("github",) and key in ("token", "password", "private_key"):
        return (
            "unknown key: secrets never go in the configuration; use token_env, token_file "
            "or app.private_key_file"
        )
    allowed = _allowed_keys(loc[:-1])
    lowered = {name.lower(): name for name in allowed}
    close = difflib.get_close_matches(key.lower().replace("-", "_"), list(lowered), n=1)
    if close:
        return f"unknown key (did you mean {lowered[close[0]]}?)"
    if allowed:
        return f"unknown key (expected one of: {', '.join(allowed)})"
    return "unknown key"


def _allowed_keys(loc: _Path) -> list[str]:
    """The keys the model at ``loc`` accepts, for "did you mean" hints."""
    current: Any = Config
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            current = field.annotation
            continue
        args = get_args(current)
        origin = get_origin(current)
        if origin in (dict, Mapping) and len(args) == 2:
            current = args[1]
        elif origin in (tuple, list) and args:
            current = args[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or type(annotation).__name__ == "UnionType":
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _describe(value: object) -> str:
    """A value as it would read in YAML, short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)
