"""Checks across fields, on the raw data: they are reported even when another field of the same
section is broken (which stops pydantic before the models' own cross-field checks)."""

from __future__ import annotations

from typing import Any

from healthexporter.config.health import (
    canonical_window,
    no_maintainers_problem,
    repeated_event,
    repeated_login,
    repeated_window,
)
from healthexporter.config.model import (
    EMPTY_PROJECT,
    TOKEN_SOURCES,
    SyncConfig,
    sync_problem,
    token_source_problem,
)
from healthexporter.config.problems import KeyPath, LineIndex, at_key, dotted
from healthexporter.config.values import parse_duration, quote


def cross_checks(
    data: dict[Any, Any], lines: LineIndex, messages: set[str]
) -> list[tuple[int, str]]:
    """The checks across fields, on the raw data; ``messages`` collects their bare messages so
    that the same problem is not reported again from the model validators."""
    problems: list[tuple[int, str]] = []
    github = data.get("github")
    if isinstance(github, dict):
        found = [key for key in TOKEN_SOURCES if github.get(key) is not None]
        problem = token_source_problem(found)
        if problem:
            # Point at the source written last: that is where the reader decides which stays.
            last = max(found, key=lambda key: lines.find(("github", key)) or 0)
            problems.append(at_key(("github", last), problem, lines))
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
            problem = sync_problem(*durations)
            if problem:
                problems.append(at_key(("sync",), problem, lines))
                messages.add(problem)
    projects = data.get("projects")
    if isinstance(projects, dict):
        for name, project in projects.items():
            if project is None or (
                isinstance(project, dict)
                and not project.get("repositories")
                and not project.get("orgs")
            ):
                problems.append(at_key(("projects", name), EMPTY_PROJECT, lines))
                messages.add(EMPTY_PROJECT)
        problems += _duplicate_entries(projects, lines)
    health = data.get("health")
    if isinstance(health, dict) and isinstance(projects, dict):
        maintainers = sum(
            len(project["maintainers"])
            for project in projects.values()
            if isinstance(project, dict) and isinstance(project.get("maintainers"), list)
        )
        problem = no_maintainers_problem(health.get("responders"), maintainers)
        if problem:
            problems.append(at_key(("health", "responders"), problem, lines))
            messages.add(problem)
    problems += _repeated_settings(data, lines, messages)
    return problems


def _repeated_settings(
    data: dict[Any, Any], lines: LineIndex, messages: set[str]
) -> list[tuple[int, str]]:
    """Windows, response events and affiliation overrides written twice, at the repeat."""
    found: list[tuple[KeyPath, str]] = []
    health = data.get("health")
    health = health if isinstance(health, dict) else {}
    windows = health.get("windows")
    seen: set[object] = set()
    for index, window in enumerate(windows if isinstance(windows, list) else []):
        try:
            name, _ = canonical_window(window)
        except ValueError:
            continue  # reported by the field itself
        if name in seen:
            found.append((("health", "windows", index), repeated_window(name)))
        seen.add(name)
    events = health.get("response_events")
    seen = set()
    for index, event in enumerate(events if isinstance(events, list) else []):
        if not isinstance(event, str):
            continue
        if event in seen:
            found.append((("health", "response_events", index), repeated_event(event)))
        seen.add(event)
    affiliations = data.get("affiliations")
    overrides = affiliations.get("overrides") if isinstance(affiliations, dict) else None
    seen = set()
    for login in overrides if isinstance(overrides, dict) else {}:
        if not isinstance(login, str):
            continue
        if login.lower() in seen:
            found.append((("affiliations", "overrides", login), repeated_login(login)))
        seen.add(login.lower())
    messages.update(message for _, message in found)
    return [at_key(path, message, lines) for path, message in found]


def _duplicate_entries(projects: dict[Any, Any], lines: LineIndex) -> list[tuple[int, str]]:
    """A repository listed twice (in one project or across projects), or an organization
    listed twice in one project: metrics would count its items twice."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, KeyPath] = {}
    for name, project in projects.items():
        if not isinstance(project, dict):
            continue
        repositories = project.get("repositories")
        for index, repo in enumerate(repositories if isinstance(repositories, list) else []):
            if not isinstance(repo, str):
                continue
            path: KeyPath = ("projects", name, "repositories", index)
            first = seen.setdefault(repo.lower(), path)
            if first != path:
                problems.append(_already(path, repo, first, lines))
        orgs = project.get("orgs")
        seen_orgs: dict[str, KeyPath] = {}
        for index, org in enumerate(orgs if isinstance(orgs, list) else []):
            org_name = org.get("name") if isinstance(org, dict) else org
            if not isinstance(org_name, str):
                continue
            path = ("projects", name, "orgs", index)
            first = seen_orgs.setdefault(org_name.lower(), path)
            if first != path:
                problems.append(_already(path, org_name, first, lines))
    return problems


def _already(path: KeyPath, value: str, first: KeyPath, lines: LineIndex) -> tuple[int, str]:
    first_line = lines.find(first)
    where = dotted(first) + (f" (line {first_line})" if first_line is not None else "")
    return at_key(path, f"{quote(value)} is already listed at {where}", lines)
