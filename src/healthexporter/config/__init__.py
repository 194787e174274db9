"""The configuration: one YAML file, read once into typed, frozen values.

Every problem is reported at once, each with its key and line (``loading``, ``problems``,
``crosschecks``); the values are frozen pydantic models (``model``; the health maths' settings
in ``health``) built from small checked value types (``values``).

The configuration never holds a secret. It names where a token lives (an environment variable,
a file, a GitHub App key file) and only checks that files exist and are readable; the GitHub
layer reads them when it needs them, so rotated files are picked up.
"""

from __future__ import annotations

from healthexporter.config.health import (
    AffiliationsConfig,
    EpisodicConfig,
    HealthConfig,
    LabelsConfig,
    WindowConfig,
)
from healthexporter.config.loading import load_config, parse_config
from healthexporter.config.model import (
    AppConfig,
    BotsConfig,
    Config,
    GitHubConfig,
    LoggingConfig,
    OrgConfig,
    ProjectConfig,
    ReserveConfig,
    StorageConfig,
    SyncConfig,
    WebConfig,
)
from healthexporter.config.values import parse_duration
from healthexporter.github.endpoints import derive_graphql_url

__all__ = [
    "AffiliationsConfig",
    "AppConfig",
    "BotsConfig",
    "Config",
    "EpisodicConfig",
    "GitHubConfig",
    "HealthConfig",
    "LabelsConfig",
    "LoggingConfig",
    "OrgConfig",
    "ProjectConfig",
    "ReserveConfig",
    "StorageConfig",
    "SyncConfig",
    "WebConfig",
    "WindowConfig",
    "derive_graphql_url",
    "load_config",
    "parse_config",
    "parse_duration",
]
