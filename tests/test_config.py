"""Configuration: good files load into typed values, and each bad file in tests/data/configs/bad
produces exactly the problems its ``# expect:`` lines name (key path and line included)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from healthexporter.config import (
    AffiliationsConfig,
    AppConfig,
    Config,
    GitHubConfig,
    HealthConfig,
    WindowConfig,
    derive_graphql_url,
    load_config,
    parse_config,
    parse_duration,
)
from healthexporter.errors import ConfigError

CONFIGS = Path(__file__).parent / "data" / "configs"
GOOD = CONFIGS / "good"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))
DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def expectations(path: Path) -> list[str]:
    """The ``# expect: …`` comment lines of a bad configuration; `` ... `` stands for any text
    (an absolute path that depends on the checkout)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("# expect:", 1)[1].strip() for line in lines if line.startswith("# expect:")]


def matches(expected: str, problem: str) -> bool:
    parts = [re.escape(part) for part in expected.split(" ... ")]
    return re.search(".*".join(parts), problem) is not None


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


# --- bad configurations ------------------------------------------------------------------


def test_the_bad_corpus_is_large_enough() -> None:
    assert len(BAD) >= 20
    for path in BAD:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_bad_config_reports_exactly_the_expected_problems(path: Path) -> None:
    expected = expectations(path)
    problems = problems_of(path)
    assert len(problems) == len(expected), "\n".join(problems)
    for want, got in zip(expected, problems, strict=True):  # file order
        assert matches(want, got), f"expected {want!r}\n     got {got!r}"


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_each_problem_is_one_self_contained_line(path: Path) -> None:
    for problem in problems_of(path):
        assert "\n" not in problem
        # "<key or file> (line N): <message>"; the line is left out only for a missing
        # top-level key and for an empty file.
        assert re.match(r"\S.*? \(line \d+(, column \d+)?\): \S|[\w/.-]+: \S", problem), problem


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_no_problem_echoes_a_token(path: Path) -> None:
    for problem in problems_of(path):
        assert "ghp_" not in problem


def test_unreadable_file_is_a_problem_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert caught.value.problems == [
        f"{missing}: cannot read the configuration: No such file or directory"
    ]


def test_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("projects: {caf\xe9: {}}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_private_key_is_a_problem(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("x")
    key.chmod(0)
    text = f"github: {{app: {{id: 1, installation_id: 2, private_key_file: {key}}}}}\nprojects: {{p: {{repositories: [a/b]}}}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        f'github.app.private_key_file (line 1): file "{key}" is not readable'
    ]


def test_parse_config_names_the_source_for_file_level_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("", "/etc/healthexporter.yaml")
    assert caught.value.problems == [
        "/etc/healthexporter.yaml: the configuration is empty (projects are required)"
    ]


def test_config_error_message_joins_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("projects: {a: {}}\nweb: {listen_address: x}\n")
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert len(caught.value.problems) == 2


# --- good configurations -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["minimal.yaml", "projects-only.yaml"])
def test_minimal_config_fills_defaults(name: str) -> None:
    config = load_config(GOOD / name)
    assert config.github.api_url == "https://api.github.com"
    assert config.github.graphql_endpoint == "https://api.github.com/graphql"
    assert config.github.token_env == "GITHUB_TOKEN"
    assert config.github.token_source == "env"
    assert config.github.token_file is None
    assert config.github.app is None
    assert config.github.max_concurrency == 4
    assert config.github.reserve.as_dict() == {"graphql": 200, "core": 200}
    assert config.github.timeout == timedelta(seconds=30)
    assert config.github.max_retries == 5
    assert config.github.max_wait == timedelta(minutes=15)
    assert config.repositories() == [("kube-rs", "kube-rs/kube")]
    assert config.orgs() == []
    assert config.storage.path == GOOD / "healthexporter.db"
    assert config.sync.poll_interval == timedelta(minutes=15)
    assert config.sync.jitter == timedelta(seconds=30)
    assert config.sync.overlap == timedelta(minutes=5)
    assert config.sync.reconcile_interval == timedelta(days=7)
    assert config.sync.page_size == 100
    assert config.sync.timeline_page_size == 100
    assert config.sync.profile_refresh == timedelta(days=30)
    assert config.bots.logins == config.bots.patterns == config.bots.not_bots == ()
    assert config.web.listen_address == ":9935"
    assert config.web.config_file is None
    assert config.logging.level == "info"
    assert config.logging.format == "text"
    health = config.health
    assert [(w.name, w.duration) for w in health.windows] == [
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("90d", timedelta(days=90)),
    ]
    assert health.responders == "anyone"
    assert health.response_events == ("comment", "review", "close", "merge")
    assert health.labels.good_first_issue == ("good first issue", "good-first-issue")
    assert health.labels.help_wanted == ("help wanted", "help-wanted")
    assert health.episodic.lookback == timedelta(days=90)
    assert health.episodic.max_contributions == 5
    assert health.release_intervals == 10
    assert config.affiliations.files == ()
    assert dict(config.affiliations.overrides) == {}


def test_full_config_reads_every_key() -> None:
    config = load_config(GOOD / "full.yaml")
    github = config.github
    assert github.api_url == "https://api.github.com"  # trailing slash dropped
    assert github.graphql_endpoint == "https://api.github.com/graphql"
    assert github.token_env == "HEALTH_GITHUB_TOKEN"
    assert github.max_concurrency == 8
    assert github.reserve.graphql == 500
    assert github.reserve.core == 1000
    assert github.timeout == timedelta(seconds=45)
    assert github.max_retries == 3
    assert github.max_wait == timedelta(hours=1, minutes=30)

    assert list(config.projects) == ["kube-rs", "prometheus.io"]
    kube = config.projects["kube-rs"]
    assert kube.repositories == ("kube-rs/kube", "kube-rs/controller-rs")
    assert kube.maintainers == ("clux", "nightkr")
    (org,) = kube.orgs
    assert (org.name, org.include, org.exclude, org.archived, org.forks) == (
        "kube-rs",
        ("kube*", "*-rs"),
        ("website",),
        True,
        True,
    )
    (prometheus,) = config.projects["prometheus.io"].orgs
    assert (prometheus.name, prometheus.include, prometheus.exclude) == ("prometheus", ("*",), ())
    assert not prometheus.archived and not prometheus.forks
    assert config.repositories() == [
        ("kube-rs", "kube-rs/kube"),
        ("kube-rs", "kube-rs/controller-rs"),
    ]
    assert [(project, org.name) for project, org in config.orgs()] == [
        ("kube-rs", "kube-rs"),
        ("prometheus.io", "prometheus"),
    ]

    assert config.storage.path == GOOD / "data" / "health.db"
    sync = config.sync
    assert (sync.poll_interval, sync.jitter, sync.overlap) == (
        timedelta(minutes=30),
        timedelta(minutes=1),
        timedelta(minutes=10),
    )
    assert sync.reconcile_interval == timedelta(weeks=2)
    assert (sync.page_size, sync.timeline_page_size) == (50, 25)
    assert sync.profile_refresh == timedelta(days=14)
    assert config.bots.logins == ("ci-helper",)
    assert config.bots.patterns == ("^automation-", "-ci$")
    assert config.bots.not_bots == ("release-bot",)
    assert config.web.listen_address == "127.0.0.1:9935"
    assert config.web.config_file == GOOD / "web.yaml"
    assert (config.logging.level, config.logging.format) == ("debug", "json")

    health = config.health
    assert health.windows == (
        WindowConfig(name="1d12h", duration=timedelta(hours=36)),
        WindowConfig(name="14d", duration=timedelta(weeks=2)),
        WindowConfig(name="30d", duration=timedelta(days=30)),
        WindowConfig(name="90d", duration=timedelta(days=90)),
    )
    assert health.responders == "maintainers"
    assert health.response_events == ("comment", "review")
    assert health.labels.good_first_issue == ("Good First Issue", "beginner")
    assert health.labels.help_wanted == ("Help Wanted",)
    assert (health.episodic.lookback, health.episodic.max_contributions) == (
        timedelta(days=180),
        3,
    )
    assert health.release_intervals == 20
    assert config.affiliations.files == (GOOD / "developers_affiliations.txt",)
    # logins lower-cased (GitHub compares them case-insensitively); company names stripped
    assert dict(config.affiliations.overrides) == {"clux": "Independent", "nightkr": "Stackable"}


def test_ghes_with_app() -> None:
    config = load_config(GOOD / "ghes-app.yaml")
    assert config.github.api_url == "https://github.example.com/api/v3"
    assert config.github.graphql_endpoint == "https://github.example.com/api/graphql"
    assert config.github.token_source == "app"
    assert config.github.token_env is None
    assert config.github.app == AppConfig(
        id=123, installation_id=456, private_key_file=GOOD / "app-key.pem"
    )
    assert [org.name for _, org in config.orgs()] == ["platform-team", "infra"]
    assert config.orgs()[1][1].exclude == ("sandbox-*",)
    assert config.repositories() == []


def test_token_file_is_checked_but_never_read() -> None:
    config = load_config(GOOD / "token-file.yaml")
    assert config.github.token_source == "file"
    assert config.github.token_file == GOOD / "token.txt"
    assert config.github.token_env is None
    secret = (GOOD / "token.txt").read_text().strip()
    assert secret not in repr(config)
    assert secret not in config.model_dump_json()


def test_relative_paths_follow_base_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "projects: {p: {repositories: [a/b]}}\nstorage: {path: store.db}\n"
    assert parse_config(text, base_dir=tmp_path).storage.path == tmp_path / "store.db"
    monkeypatch.chdir(tmp_path)
    assert parse_config(text).storage.path == tmp_path / "store.db"


def test_config_is_frozen() -> None:
    config = load_config(GOOD / "full.yaml")
    with pytest.raises(ValidationError):
        config.github.max_concurrency = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.projects["new"] = config.projects["kube-rs"]  # type: ignore[index]
    assert isinstance(config.projects["kube-rs"].repositories, tuple)
    with pytest.raises(ValidationError):
        config.health.windows[0].name = "1w"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.affiliations.overrides["eve"] = "Evil Corp"  # type: ignore[index]
    assert isinstance(config.health.windows, tuple)
    assert isinstance(config.health.labels.help_wanted, tuple)


def test_models_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValidationError, match="set exactly one of token_env, token_file, app"):
        GitHubConfig(
            token_env="A",
            app=AppConfig(id=1, installation_id=2, private_key_file=GOOD / "app-key.pem"),
        )
    assert GitHubConfig().token_env == "GITHUB_TOKEN"
    with pytest.raises(ValidationError):
        Config(projects={})


def test_empty_sections_mean_defaults() -> None:
    config = parse_config("github:\nbots:\nsync:\nprojects: {p: {repositories: [a/b]}}\n")
    assert config.github.token_env == "GITHUB_TOKEN"
    assert config.sync.page_size == 100
    config = parse_config(
        "projects: {p: {repositories: [a/b]}}\nhealth:\n  labels:\n  episodic:\naffiliations:\n"
    )
    assert config.health == HealthConfig()
    assert config.affiliations == AffiliationsConfig()


@pytest.mark.parametrize(
    ("written", "name", "duration"),
    [
        ("7d", "7d", timedelta(days=7)),
        ("1w", "7d", timedelta(days=7)),
        ("168h", "7d", timedelta(days=7)),
        ("12h", "12h", timedelta(hours=12)),
        ("36h", "1d12h", timedelta(hours=36)),
        ("1h", "1h", timedelta(hours=1)),
        ("90m", "1h30m", timedelta(minutes=90)),
        (86400, "1d", timedelta(days=1)),
    ],
)
def test_windows_are_named_in_canonical_form(
    written: str | int, name: str, duration: timedelta
) -> None:
    """The name is the exported `window` label: one spelling per duration."""
    text = f"projects: {{p: {{repositories: [a/b]}}}}\nhealth: {{windows: [{written}]}}\n"
    assert parse_config(text).health.windows == (WindowConfig(name=name, duration=duration),)


def test_responders_list_counts_project_maintainers() -> None:
    text = (
        "projects:\n  a: {repositories: [a/a]}\n  b: {repositories: [b/b], maintainers: [Bob]}\n"
        "health: {responders: list}\n"
    )
    config = parse_config(text)
    assert config.health.responders == "list"
    assert config.projects["b"].maintainers == ("Bob",)


def test_health_cross_checks_hold_for_models_built_in_code() -> None:
    with pytest.raises(ValidationError, match="no project lists any"):
        Config(
            projects={"p": {"repositories": ["a/b"]}},
            health=HealthConfig(responders="list"),
        )
    with pytest.raises(ValidationError, match="window 7d is listed twice"):
        HealthConfig(windows=("7d", "1w"))
    with pytest.raises(ValidationError, match="at least one of comment, review, close, merge"):
        HealthConfig(response_events=())


def test_yaml_merge_keys_are_not_duplicates() -> None:
    text = "projects:\n  a: &base {repositories: [a/a], maintainers: [x]}\n  b:\n    <<: *base\n    repositories: [b/b]\n"
    config = parse_config(text)
    assert config.repositories() == [("a", "a/a"), ("b", "b/b")]
    assert config.projects["b"].maintainers == ("x",)


def test_documented_examples_are_valid(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        if "projects:" in block:
            parse_config(block, str(DOCS), base_dir=tmp_path)


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("0s", timedelta(0)),
        (90, timedelta(seconds=90)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5x", "m", "1.5h", "30 s", "5m1h", "-5m", "1h 30m", "P1D"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(
        ValueError, match=f"bad duration '{re.escape(text)}': use e.g. 30s, 5m, 1h, 7d"
    ):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, 1.5, None, [30]])
def test_parse_duration_rejects_other_types(value: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("api_url", "graphql_url"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://api.github.com/", "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"),
        ("http://127.0.0.1:8089", "http://127.0.0.1:8089/graphql"),
    ],
)
def test_derive_graphql_url(api_url: str, graphql_url: str) -> None:
    assert derive_graphql_url(api_url) == graphql_url
    text = f"github: {{api_url: '{api_url}'}}\nprojects: {{p: {{repositories: [a/b]}}}}\n"
    assert parse_config(text).github.graphql_endpoint == graphql_url


@pytest.mark.parametrize(
    "address", [":9935", "0.0.0.0:9935", "127.0.0.1:0", "localhost:9935", "[::]:9935", "[::1]:9935"]
)
def test_listen_addresses(address: str) -> None:
    text = f"projects: {{p: {{repositories: [a/b]}}}}\nweb: {{listen_address: '{address}'}}\n"
    assert parse_config(text).web.listen_address == address


@pytest.mark.parametrize(
    "repository", ["kube-rs/kube", "a/b", "A-1/x.y_z", "octo/.github", "alice_acme/repo", "x/-"]
)
def test_good_repository_names(repository: str) -> None:
    text = f"projects: {{p: {{repositories: ['{repository}']}}}}\n"
    assert parse_config(text).repositories() == [("p", repository)]


@pytest.mark.parametrize(
    "repository", ["kube-rs", "a/b/c", "/b", "a/", "-a/b", "a b/c", "a/..", "a/.", "a/b c", "a/b?"]
)
def test_bad_repository_names(repository: str) -> None:
    text = f"projects: {{p: {{repositories: ['{repository}']}}}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        f'projects.p.repositories[0] (line 1): "{repository}" is not owner/name'
    ]


def test_examples_directory_configs_are_valid(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    for path in sorted(examples.glob("*.yaml")):
        parse_config(path.read_text(encoding="utf-8"), str(path), base_dir=tmp_path)
