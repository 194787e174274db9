"""Value types of the configuration: each checks its own syntax and says what a good value
looks like. Pydantic runs them; ``problems`` turns what they raise into lines with keys."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictStr,
    ValidationInfo,
)

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
    raise ValueError(f"bad duration {describe(value)}: use e.g. 30s, 5m, 1h, 7d")


def at_least(minimum: timedelta, label: str) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"must be at least {label}, got {format_duration(value)}")
        return value

    return AfterValidator(check)


def format_duration(value: timedelta) -> str:
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
PositiveDuration = Annotated[Duration, at_least(timedelta(seconds=1), "1s")]

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
            f"{quote(value)} is not an environment variable name (letters, digits, '_')"
        )
    return value


EnvVarName = Annotated[StrictStr, AfterValidator(_check_env_var)]


def _check_url(value: str) -> str:
    hint = "use an http(s) URL such as https://api.github.com or https://HOST/api/v3"
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ValueError(f"bad URL {quote(value)}: {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad URL {quote(value)}: {hint}")
    if parts.query or parts.fragment:
        raise ValueError(f"bad URL {quote(value)}: no query or fragment allowed")
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
            raise ValueError(f"{quote(value)} is not owner/name (did you mean {url.group(1)}?)")
        raise ValueError(f"{quote(value)} is not owner/name")
    return value


def _check_owner(value: str) -> str:
    if not re.fullmatch(_OWNER, value):
        raise ValueError(f"{quote(value)} is not an organization name (letters, digits, '-', '_')")
    return value


def _check_login(value: str) -> str:
    if not _LOGIN.fullmatch(value):
        raise ValueError(f"{quote(value)} is not a GitHub login (letters, digits, '-', '_')")
    return value


def _check_project_name(value: str) -> str:
    if not _PROJECT_NAME.fullmatch(value):
        raise ValueError(f"bad project name {quote(value)}: use letters, digits, '_', '.', '-'")
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"bad regular expression {quote(value)}: {error}") from None
    return value


def _check_glob(value: str) -> str:
    if not value:
        raise ValueError("empty pattern: use e.g. '*' or 'kube-*'")
    return value


def _check_listen_address(value: str) -> str:
    hint = 'use host:port, e.g. ":9935" or "127.0.0.1:9935"'
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"bad listen address {quote(value)}: {hint}")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"bad listen address {quote(value)}: {hint}") from None
    elif host and not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ValueError(f"bad listen address {quote(value)}: {hint} (IPv6 in [brackets])")
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
        raise ValueError(f"file {quote(str(path))} does not exist")
    if not path.is_file():
        raise ValueError(f"{quote(str(path))} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"file {quote(str(path))} is not readable")
    return path


def _writable_location(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value.expanduser(), info)
    if path.is_dir():
        raise ValueError(f"{quote(str(path))} is a directory; name a file in it")
    if not path.parent.is_dir():
        raise ValueError(f"directory {quote(str(path.parent))} does not exist")
    return path


def non_empty(value: Mapping[str, Any]) -> Mapping[str, Any]:
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


def quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def describe(value: object) -> str:
    """A value as it would read in YAML, short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


class Section(BaseModel):
    """A section of the file: frozen, and unknown keys are errors (a typo never silently falls
    back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
