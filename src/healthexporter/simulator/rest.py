"""The REST endpoints the exporter uses, answering from the dataset in GitHub's JSON shapes.

Endpoints follow GitHub's OpenAPI description (``repos/get``, ``issues/list-for-repo``,
``repos/list-releases``, ``repos/list-tags``, ``repos/list-for-org``, ``rate-limit/get``, and for
the per-item pattern of clients such as github/issue-metrics ``search/issues-and-pull-requests``,
``issues/list-comments``, ``issues/list-events``, ``pulls/get``, ``pulls/list-reviews``); their
bodies are built by ``rest_shapes``. Behaviour follows GitHub's docs where the exporter depends
on it:

* ``GET /repos/{o}/{r}/issues`` lists issues *and* pull requests (pull requests carry a
  ``pull_request`` object), ``state`` defaults to open, ``sort`` to created, ``direction`` to
  desc; ``since`` filters on ``updated_at``.
* Pages: ``per_page`` defaults to 30, at most 100; a ``Link`` header with absolute URLs
  (``rel="prev"``, ``"next"``, ``"last"``, ``"first"``) when there is more than one page
  ("Using pagination in the REST API").
* A renamed repository's former name answers 301 to ``/repositories/{id}`` ("Repository
  redirects").
* Bots' REST logins end in ``[bot]``; deleted users show as ``ghost``.

This module is pure request → response over the dataset; authentication, rate limits, ETags and
the wire belong to ``server.py``.
"""

from __future__ import annotations

import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import jwt

from healthexporter.simulator.dataset import (
    Dataset,
    SimItem,
    SimRepository,
    format_time,
    parse_time,
)
from healthexporter.simulator.rest_shapes import (
    ISSUE_EVENTS,
    comment_count,
    comment_json,
    issue_event_json,
    issue_json,
    pull_json,
    release_json,
    repository_json,
    review_json,
    tag_json,
)

DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

Json = Any
_T = TypeVar("_T")


@dataclass(frozen=True)
class AppConfig:
    """A GitHub App the simulator knows: JWTs signed by its private key (RS256, ``iss`` = the
    app id) may exchange tokens for these installations, valid ``token_lifetime_seconds``."""

    app_id: int | str
    public_key_pem: str
    installation_ids: frozenset[int] = frozenset({1})
    token_lifetime_seconds: float = 3600.0


@dataclass(frozen=True)
class RestRequest:
    """What an endpoint needs to know of a request. ``base_url`` is the API root the client
    used (``http://HOST[/api/v3]``), so that URLs in bodies and ``Link`` headers lead back to
    this server the same way."""

    method: str
    path: str  # below base_url, without the query
    query: dict[str, str]
    base_url: str
    html_url: str  # the web root, for html_url fields


@dataclass
class RestResponse:
    status: int
    body: Json  # a JSON value; None for no body
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # GitHub's path template, e.g. /repos/{owner}/{repo}/issues
    pattern: re.Pattern[str]

    @property
    def name(self) -> str:
        """The operation name used in stats and fault rules: ``GET /repos/{owner}/{repo}``."""
        return f"{self.method} {self.template}"


def _route(method: str, template: str) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, template, re.compile(f"^{regex}/?$"))


ROUTES = (
    _route("GET", "/repos/{owner}/{repo}"),
    _route("GET", "/repos/{owner}/{repo}/issues"),
    _route("GET", "/repos/{owner}/{repo}/releases"),
    _route("GET", "/repos/{owner}/{repo}/tags"),
    _route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    _route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/events"),
    _route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    _route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    _route("GET", "/search/issues"),
    _route("GET", "/repositories/{repository_id}"),
    _route("GET", "/repositories/{repository_id}/issues"),
    _route("GET", "/repositories/{repository_id}/releases"),
    _route("GET", "/repositories/{repository_id}/tags"),
    _route("GET", "/orgs/{org}/repos"),
    _route("GET", "/rate_limit"),
    _route("GET", "/user"),
    _route("POST", "/app/installations/{installation_id}/access_tokens"),
)


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None, {}


def error(status: int, message: str, **extra: Json) -> RestResponse:
    """GitHub's error body: ``message``, ``documentation_url`` and ``status`` as a string."""
    return RestResponse(
        status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra}
    )


def not_found() -> RestResponse:
    return error(404, "Not Found")


class RestApi:
    """The data endpoints over one dataset. Sorted, filtered issue lists are cached per
    repository version, so walking thousands of pages does not sort on every page."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._lists: OrderedDict[tuple[object, ...], list[SimItem]] = OrderedDict()

    def handle(self, route: Route, params: dict[str, str], request: RestRequest) -> RestResponse:
        """Answer a data route (everything but ``/rate_limit``, ``/user`` and the app token
        exchange, which need the server's token state)."""
        with self.dataset.lock:
            parts = route.template.split("/")
            if parts[1] == "orgs":
                return self._org_repos(params["org"], request)
            if parts[1] == "search":
                return self._search_issues(request)
            repo, redirect = self._resolve(params, request)
            if redirect is not None:
                return redirect
            if repo is None:
                return not_found()
            if len(parts) == 3 or (parts[1] == "repos" and len(parts) == 4):
                return RestResponse(
                    200,
                    repository_json(repo, self.dataset, request, full=True),
                    last_modified=max(
                        filter(None, [repo.updated_at, repo.pushed_at]), default=None
                    ),
                )
            if parts[-1] == "issues":
                return self._issues(repo, request)
            if "issue_number" in params or "pull_number" in params:
                return self._item_route(repo, parts, params, request)
            if parts[-1] == "releases":
                releases = sorted(repo.releases, key=lambda r: r.created_at, reverse=True)
                return paginate(
                    releases, request, lambda r: release_json(repo, r, self.dataset, request)
                )
            tags = sorted(repo.tags, key=lambda t: (t.tagged_at, t.name), reverse=True)
            return paginate(tags, request, lambda t: tag_json(repo, t, request))

    def _resolve(
        self, params: dict[str, str], request: RestRequest
    ) -> tuple[SimRepository | None, RestResponse | None]:
        if "repository_id" in params:
            for candidate in self.dataset.repositories.values():
                if str(candidate.database_id) == params["repository_id"]:
                    return candidate, None
            return None, None
        repo = self.dataset.repository(params["owner"], params["repo"])
        if repo is not None:
            return repo, None
        renamed = self.dataset.renamed_repository(params["owner"], params["repo"])
        if renamed is None:
            return None, None
        # GitHub: 301 to the repository's id-based URL, keeping the rest of the path and query
        tail = request.path.split("/", 4)[4:]
        location = f"{request.base_url}/repositories/{renamed.database_id}"
        location += "".join("/" + t for t in tail if t)
        if request.query:
            location += "?" + urlencode(request.query)
        body = {"message": "Moved Permanently", "url": location, "documentation_url": DOCS}
        return None, RestResponse(301, body, headers={"location": location})

    def _issues(self, repo: SimRepository, request: RestRequest) -> RestResponse:
        query = request.query
        state = query.get("state", "open")
        sort = query.get("sort", "created")
        direction = query.get("direction", "desc")
        problems = []
        if state not in ("open", "closed", "all"):
            problems.append(("state", state))
        if sort not in ("created", "updated", "comments"):
            problems.append(("sort", sort))
        if direction not in ("asc", "desc"):
            problems.append(("direction", direction))
        since = None
        if "since" in query:
            try:
                since = parse_time(query["since"])
            except ValueError:
                problems.append(("since", query["since"]))
        if problems:
            return error(
                422,
                "Validation Failed",
                errors=[
                    {"resource": "Issue", "field": name, "code": "invalid", "value": value}
                    for name, value in problems
                ],
            )
        labels = tuple(sorted(n for n in query.get("labels", "").split(",") if n))
        version = self.dataset.repo_versions.get(repo.full_name.lower())
        key = (repo.full_name.lower(), version, state, sort, direction, since, labels)
        items = self._lists.get(key)
        if items is None:
            items = _issue_list(
                repo, state=state, sort=sort, direction=direction, since=since, labels=labels
            )
            self._lists[key] = items
            while len(self._lists) > 64:
                self._lists.popitem(last=False)
        else:
            self._lists.move_to_end(key)
        return paginate(items, request, lambda i: issue_json(repo, i, self.dataset, request))

    def _item_route(
        self,
        repo: SimRepository,
        parts: list[str],
        params: dict[str, str],
        request: RestRequest,
    ) -> RestResponse:
        """One issue's or pull request's comments or events, a pull request, its reviews. As on
        GitHub, ``/issues/{n}/…`` answers for pull requests too, ``/pulls/{n}`` only for them."""
        number = params.get("issue_number") or params.get("pull_number") or ""
        item = repo.item(int(number)) if number.isdigit() else None
        if item is None or (parts[4] == "pulls" and item.kind != "pull_request"):
            return not_found()
        if parts[-1] == "comments":
            comments = [e for e in item.timeline if e.type == "IssueComment"]
            comments.sort(key=lambda e: (e.created_at, e.id))
            return paginate(
                comments, request, lambda e: comment_json(repo, item, e, self.dataset, request)
            )
        if parts[-1] == "events":
            events = [e for e in item.timeline if e.type in ISSUE_EVENTS]
            events.sort(key=lambda e: (e.created_at, e.id))
            return paginate(
                events, request, lambda e: issue_event_json(repo, e, self.dataset, request)
            )
        if parts[-1] == "reviews":
            # pending reviews are visible to their author only
            reviews = [
                e
                for e in item.timeline
                if e.type == "PullRequestReview" and e.review_state not in (None, "PENDING")
            ]
            reviews.sort(key=lambda e: (e.submitted_at or e.created_at, e.id))
            return paginate(
                reviews, request, lambda e: review_json(repo, item, e, self.dataset, request)
            )
        return RestResponse(
            200, pull_json(repo, item, self.dataset, request), last_modified=item.updated_at
        )

    def _search_issues(self, request: RestRequest) -> RestResponse:
        """``GET /search/issues`` ("Search issues and pull requests"): the qualifiers ``repo:``,
        ``is:``/``type:`` (pr, issue, open, closed, merged), ``state:``, ``created:`` and
        ``updated:`` (``A..B``, ``>=A``, ``>A``, ``<=A``, ``<A``, or a date); ``sort`` created,
        updated or comments (default: created, standing in for best match), ``order`` desc.
        Like GitHub, only the first 1,000 results can be read: ``total_count`` counts them all,
        a page beyond answers 422."""
        query = request.query
        try:
            wanted = _search_filter(query.get("q", ""))
        except ValueError as problem:
            return error(422, "Validation Failed", errors=[{"message": str(problem)}])
        sort = query.get("sort", "created")
        order = query.get("order", "desc")
        if sort not in ("created", "updated", "comments") or order not in ("asc", "desc"):
            return error(422, "Validation Failed")
        found = [
            (repo, item)
            for repo in self.dataset.repositories.values()
            if wanted.repo is None or repo.full_name.lower() == wanted.repo
            for item in repo.items
            if wanted.matches(item)
        ]
        keys: dict[str, Callable[[tuple[SimRepository, SimItem]], Any]] = {
            "created": lambda pair: (pair[1].created_at, pair[1].number),
            "updated": lambda pair: (pair[1].updated_at, pair[1].number),
            "comments": lambda pair: (comment_count(pair[1]), pair[1].number),
        }
        found.sort(key=keys[sort], reverse=order == "desc")
        page, per_page = page_window(request)
        visible = found[:SEARCH_RESULT_CAP]
        if (page - 1) * per_page >= SEARCH_RESULT_CAP:
            return error(422, "Only the first 1000 search results are available")
        listed = paginate(
            visible,
            request,
            lambda pair: {
                **issue_json(pair[0], pair[1], self.dataset, request),
                "body": "",
                "score": 1.0,
            },
        )
        body = {
            "total_count": len(found),
            "incomplete_results": False,
            "search_type": "lexical",
            "items": listed.body,
        }
        return RestResponse(200, body, headers=listed.headers)

    def _org_repos(self, org: str, request: RestRequest) -> RestResponse:
        repos = self.dataset.org_repositories(org)
        owner = self.dataset.user(org)
        if not repos and (owner is None or owner.kind != "Organization"):
            return not_found()
        kind = request.query.get("type", "all")
        if kind == "forks":
            repos = [r for r in repos if r.is_fork]
        elif kind == "sources":
            repos = [r for r in repos if not r.is_fork]
        elif kind == "private":
            repos = []
        sort = request.query.get("sort", "created")
        keys: dict[str, Callable[[SimRepository], Any]] = {
            "created": lambda r: r.created_at,
            "updated": lambda r: r.updated_at or r.created_at,
            "pushed": lambda r: r.pushed_at or r.created_at,
            "full_name": lambda r: r.full_name.lower(),
        }
        if sort not in keys:
            return error(422, "Validation Failed")
        default_direction = "asc" if sort == "full_name" else "desc"
        descending = request.query.get("direction", default_direction) == "desc"
        repos = sorted(repos, key=keys[sort], reverse=descending)
        return paginate(
            repos, request, lambda r: repository_json(r, self.dataset, request, full=False)
        )


def _issue_list(
    repo: SimRepository,
    *,
    state: str,
    sort: str,
    direction: str,
    since: datetime | None,
    labels: tuple[str, ...],
) -> list[SimItem]:
    wanted = {
        "open": ("OPEN",),
        "closed": ("CLOSED", "MERGED"),
        "all": ("OPEN", "CLOSED", "MERGED"),
    }
    items = [
        item
        for item in repo.items
        if item.state in wanted[state]
        and (since is None or item.updated_at >= since)
        and all(label in item.labels for label in labels)
    ]
    keys: dict[str, Callable[[SimItem], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (comment_count(i), i.number),
    }
    items.sort(key=keys[sort], reverse=direction == "desc")
    return items


SEARCH_RESULT_CAP = 1000
_SEARCH_TOKEN = re.compile(r'(-?)(\w+):("[^"]*"|\S+)|(\S+)')


@dataclass
class _SearchFilter:
    repo: str | None = None
    kind: str | None = None  # pull_request or issue
    states: tuple[str, ...] = ("OPEN", "CLOSED", "MERGED")
    created: tuple[datetime | None, bool, datetime | None, bool] = (None, True, None, True)
    updated: tuple[datetime | None, bool, datetime | None, bool] = (None, True, None, True)

    def matches(self, item: SimItem) -> bool:
        if self.kind is not None and item.kind != self.kind:
            return False
        if item.state not in self.states:
            return False
        return _in_range(item.created_at, self.created) and _in_range(item.updated_at, self.updated)


def _in_range(
    moment: datetime, bounds: tuple[datetime | None, bool, datetime | None, bool]
) -> bool:
    low, low_inclusive, high, high_inclusive = bounds
    if low is not None and (moment < low or (moment == low and not low_inclusive)):
        return False
    return high is None or moment < high or (moment == high and high_inclusive)


def _search_time(text: str, *, end: bool) -> datetime:
    """A search date or time; a bare date stands for its whole day (its last second when
    ``end``)."""
    moment = parse_time(text if "T" in text else text + "T00:00:00Z")
    if moment is None:
        raise ValueError(text)
    if "T" not in text and end:
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment


def _search_range(text: str) -> tuple[datetime | None, bool, datetime | None, bool]:
    """``(low, low inclusive, high, high inclusive)`` of ``A..B``, ``>=A``, ``>A``, ``<=A``,
    ``<A`` or a single date."""
    if ".." in text:
        low, high = text.split("..", 1)
        return (
            None if low in ("", "*") else _search_time(low, end=False),
            True,
            None if high in ("", "*") else _search_time(high, end=True),
            True,
        )
    if text.startswith(">="):
        return (_search_time(text[2:], end=False), True, None, True)
    if text.startswith("<="):
        return (None, True, _search_time(text[2:], end=True), True)
    if text.startswith(">"):
        return (_search_time(text[1:], end=True), False, None, True)
    if text.startswith("<"):
        return (None, True, _search_time(text[1:], end=False), False)
    return (_search_time(text, end=False), True, _search_time(text, end=True), True)


def _search_filter(q: str) -> _SearchFilter:
    """The qualifiers of a search ``q`` the simulator understands; others are refused (free
    text included: the dataset has no titles or bodies to search)."""
    wanted = _SearchFilter()
    for match in _SEARCH_TOKEN.finditer(q):
        negated, name, value, word = match.groups()
        if word is not None or negated:
            raise ValueError(f"unsupported search term {match.group(0)!r}")
        value = value.strip('"').lower()
        name = name.lower()
        if name == "repo":
            wanted.repo = value
        elif (name in ("is", "type") and value in ("pr", "issue")) or (
            name == "is" and value == "pull-request"
        ):
            wanted.kind = "issue" if value == "issue" else "pull_request"
        elif name in ("is", "state") and value in ("open", "closed"):
            wanted.states = ("OPEN",) if value == "open" else ("CLOSED", "MERGED")
        elif name == "is" and value in ("merged", "unmerged"):
            wanted.kind = "pull_request"
            wanted.states = ("MERGED",) if value == "merged" else ("OPEN", "CLOSED")
        elif name in ("created", "updated"):
            try:
                setattr(wanted, name, _search_range(value.upper()))
            except ValueError:
                raise ValueError(f"invalid date in {match.group(0)!r}") from None
        else:
            raise ValueError(f"unsupported search qualifier {match.group(0)!r}")
    return wanted


def page_window(request: RestRequest) -> tuple[int, int]:
    """``(page, per_page)`` as GitHub reads them: bad numbers fall back to the defaults."""

    def number(name: str, default: int) -> int:
        try:
            return max(int(request.query.get(name, default)), 1)
        except ValueError:
            return default

    return number("page", 1), min(number("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


def paginate(
    entries: Sequence[_T], request: RestRequest, render: Callable[[_T], Json]
) -> RestResponse:
    page, per_page = page_window(request)
    last = max(math.ceil(len(entries) / per_page), 1)
    start = (page - 1) * per_page
    body = [render(entry) for entry in entries[start : start + per_page]]
    headers = {}
    links = link_header(request, page, last)
    if links:
        headers["link"] = links
    return RestResponse(200, body, headers=headers)


def link_header(request: RestRequest, page: int, last: int) -> str:
    """GitHub's ``Link`` header: prev, next, last, first, each where it applies."""

    def url(number: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        query["page"] = str(number)
        return f"<{request.base_url}{request.path}?{urlencode(query)}>"

    links = []
    if page > 1:
        links.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        links.append(f'{url(page + 1)}; rel="next"')
        links.append(f'{url(last)}; rel="last"')
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return ", ".join(links)


def exchange_app_token(
    app: AppConfig | None, authorization: str, installation: str, now: float
) -> tuple[RestResponse, str | None]:
    """``POST /app/installations/{id}/access_tokens`` ("Authenticating as a GitHub App"): the
    JWT must be RS256-signed by the app's key, ``iss`` its id, ``exp`` in the future but at
    most 10 minutes ahead, ``iat`` not in the future (30 s drift allowed). Returns the answer
    and the new ``ghs_`` token (None when refused); the caller registers the token."""
    scheme, _, assertion = authorization.strip().partition(" ")
    if app is None or scheme.lower() != "bearer" or not assertion.strip():
        return error(401, "A JSON web token could not be decoded"), None
    try:
        claims = jwt.decode(
            assertion.strip(),
            app.public_key_pem,
            algorithms=["RS256"],
            options={
                "verify_exp": False,  # checked below against the simulator's clock
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,  # GitHub takes the app id as number or string
            },
        )
    except jwt.PyJWTError:
        return error(401, "A JSON web token could not be decoded"), None
    exp, iat = claims.get("exp"), claims.get("iat")
    if str(claims.get("iss")) != str(app.app_id):
        return error(401, "Integration not found"), None
    if not isinstance(exp, int | float) or exp <= now:
        message = (
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires"
        )
        return error(401, message), None
    if exp > now + 600 + 30:
        return error(401, "'Expiration time' claim ('exp') is too far in the future"), None
    if not isinstance(iat, int | float) or iat > now + 30:
        message = (
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued"
        )
        return error(401, message), None
    if not installation.isdigit() or int(installation) not in app.installation_ids:
        return not_found(), None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    token = "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))
    expires_at = datetime.fromtimestamp(now + app.token_lifetime_seconds, UTC)
    body: dict[str, Json] = {
        "token": token,
        "expires_at": format_time(expires_at),
        "permissions": {},
        "repository_selection": "all",
    }
    return RestResponse(201, body), token
