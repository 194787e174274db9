"""The simulator's GraphQL endpoint: GitHub's checks, costs and answers over the in-memory dataset.

One call of :meth:`GraphQLEngine.execute` does what ``POST /graphql`` does at GitHub, in GitHub's
order: parse, validate against the real schema (``schema.py``), coerce variables, enforce the
pagination and node limits and compute the cost (``cost.py``), charge the caller's bucket (or
answer ``RATE_LIMITED``), and execute. GraphQL errors are answered with HTTP 200, as GitHub does;
a request that is not JSON with a ``query`` string gets 400.

Execution uses graphql-core with the real schema and one field resolver that looks up
``(type, field)`` in a table. A field the schema has but the table lacks is an error naming it —
never a silent null — so a query the simulator cannot answer faithfully fails loudly in tests.

Pagination is keyset-based: a cursor encodes the sort key of its item plus a tie-breaker
(``cursor:v2:[order, key…]`` in base64, shaped like GitHub's ``Y3Vyc29yOnYyOpK5…``), so a backfill
resumed after a crash continues exactly where it stopped even when items were added or updated
in between. Sorted views of a repository's items are cached per ``dataset.repo_versions`` and
cursors are found by bisection: a page of a 140,000-item repository does not sort anything.

Bots: the dataset stores a bot under its REST login (``dependabot[bot]``); GraphQL's ``Bot.login``
is without the suffix (``dependabot``), exactly as GitHub answers.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values

from healthexporter.simulator.cost import QueryCost, argument_value, query_cost
from healthexporter.simulator.dataset import (
    Dataset,
    SimCommit,
    SimItem,
    SimRelease,
    SimRepository,
    SimTag,
    SimTimelineEntry,
    SimUser,
    format_time,
    node_id,
    parse_time,
)
from healthexporter.simulator.ratelimit import Bucket, BucketSnapshot
from healthexporter.simulator.schema import check_query, github_schema

DOCS_URL = "https://docs.github.com/graphql"
_T = TypeVar("_T")


@dataclass(frozen=True)
class GraphQLResult:
    """What the HTTP layer sends back: status, JSON body, points charged, operation name."""

    status: int
    body: dict[str, Any]
    cost: int
    operation_name: str | None
    # the fields asked of ``repository`` (schema names, not aliases): what a bundled query
    # fetched, for the simulator's accounting
    repository_fields: tuple[str, ...] = ()


class GraphQLEngine:
    """GitHub's GraphQL API over a :class:`Dataset`; thread-safe (takes ``dataset.lock``)."""

    def __init__(self, dataset: Dataset, schema: GraphQLSchema | None = None) -> None:
        self.dataset = dataset
        self.schema = schema if schema is not None else github_schema()
        self._views = _ViewCache()

    def execute(
        self, body: Mapping[str, Any], bucket: Bucket, *, user_id: int = 1
    ) -> GraphQLResult:
        """Answer one ``POST /graphql`` body (already decoded from JSON) for the bucket's owner."""
        if not isinstance(body, Mapping):
            return _http_error("Problems parsing JSON")
        query = body.get("query")
        if not isinstance(query, str):
            return _http_error("A query attribute must be specified and must be a string.")
        raw_variables = body.get("variables") or {}
        if not isinstance(raw_variables, Mapping):
            return _http_error("Problems parsing JSON")
        requested_name = body.get("operationName") or None
        if requested_name is not None and not isinstance(requested_name, str):
            return _http_error("Problems parsing JSON")

        checked = check_query(self.schema, query)
        if checked.errors or checked.document is None:
            return _errors(list(checked.errors), requested_name)
        document = checked.document
        operation = get_operation_ast(document, requested_name)
        if operation is None:
            message = (
                f"No operation named '{requested_name}'"
                if requested_name
                else "An operation name is required"
            )
            return _errors([{"message": message}], requested_name)
        name = requested_name or (operation.name.value if operation.name else None)

        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), dict(raw_variables)
        )
        if isinstance(coerced, list):
            return _errors([_variable_error(e, raw_variables) for e in coerced], name)
        variables = coerced.coerced

        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = query_cost(self.schema, operation, fragments, variables)
        if cost.errors:
            return _errors([e.to_json() for e in cost.errors], name)

        dry_run = _is_dry_run(operation, fragments, variables)
        if not dry_run and not bucket.try_charge(cost.cost):
            message = f"API rate limit exceeded for user ID {user_id}."
            return _errors([{"type": "RATE_LIMITED", "message": message}], name)

        context = _Context(self.dataset, self._views, cost, bucket.snapshot(), dry_run)
        with self.dataset.lock:
            result = execute(
                self.schema,
                document,
                context_value=context,
                variable_values=dict(raw_variables),
                operation_name=requested_name,
                field_resolver=_resolve_field,
                type_resolver=_resolve_type,
            )
        assert isinstance(result, ExecutionResult)  # every resolver is synchronous
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [_github_error(e) for e in result.errors]
        out["data"] = result.data
        return GraphQLResult(
            200, out, 0 if dry_run else cost.cost, name, _repository_fields(operation)
        )


def _repository_fields(operation: OperationDefinitionNode) -> tuple[str, ...]:
    return tuple(
        child.name.value
        for root in operation.selection_set.selections
        if isinstance(root, FieldNode) and root.name.value == "repository" and root.selection_set
        for child in root.selection_set.selections
        if isinstance(child, FieldNode)
    )


def _http_error(message: str) -> GraphQLResult:
    return GraphQLResult(400, {"message": message, "documentation_url": DOCS_URL}, 0, None)


def _errors(errors: list[dict[str, Any]], name: str | None) -> GraphQLResult:
    # GitHub answers GraphQL errors with HTTP 200, no `data`, and charges nothing.
    return GraphQLResult(200, {"errors": errors}, 0, name)


def _variable_error(error: GraphQLError, raw: Mapping[str, Any]) -> dict[str, Any]:
    node = error.nodes[0] if error.nodes else None
    variable = getattr(getattr(node, "variable", None), "name", None)
    type_node = getattr(node, "type", None)
    out: dict[str, Any] = {"message": error.message}
    if variable is not None and type_node is not None and type_node.loc is not None:
        type_text = type_node.loc.source.body[type_node.loc.start : type_node.loc.end]
        out["message"] = (
            f"Variable ${variable.value} of type {type_text} was provided invalid value"
        )
        out["extensions"] = {
            "value": raw.get(variable.value),
            "problems": [{"path": [], "explanation": error.message}],
        }
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


def _github_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's error dict, with GitHub's top-level ``type`` (NOT_FOUND, …) when set."""
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.pop("extensions", None) or {})
    out: dict[str, Any] = {}
    if "type" in extensions:
        out["type"] = extensions.pop("type")
    out.update(formatted)
    if extensions:
        out["extensions"] = extensions
    return out


def _is_dry_run(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> bool:
    """Whether the operation asks ``rateLimit(dryRun: true)`` at its top level."""
    if operation.operation is not OperationType.QUERY:
        return False
    selections = list(operation.selection_set.selections)
    while selections:
        selection = selections.pop()
        if isinstance(selection, InlineFragmentNode):
            selections.extend(selection.selection_set.selections)
        elif isinstance(selection, FieldNode):
            if selection.name.value == "rateLimit" and argument_value(
                selection, "dryRun", variables
            ):
                return True
        else:
            fragment = fragments.get(selection.name.value)  # type: ignore[attr-defined]
            if fragment is not None:
                selections.extend(fragment.selection_set.selections)
    return False


# --- execution context and dispatch -------------------------------------------------------------


@dataclass
class _Context:
    dataset: Dataset
    views: _ViewCache
    cost: QueryCost
    rate: BucketSnapshot  # after charging this query
    dry_run: bool


_Resolver = Callable[[Any, _Context, dict[str, Any]], Any]
_RESOLVERS: dict[tuple[str, str], _Resolver] = {}


class SimulatorGapError(GraphQLError):
    """A schema field or argument the simulator does not implement (never answered silently)."""


def _resolve_field(source: Any, info: GraphQLResolveInfo[_Context], **args: Any) -> Any:
    parent = info.parent_type.name
    resolver = _RESOLVERS.get((parent, info.field_name))
    if resolver is None:
        if isinstance(source, _Page):
            resolver = _PAGE_FIELDS.get(info.field_name)
        elif isinstance(source, _Edge):
            resolver = _EDGE_FIELDS.get(info.field_name)
    if resolver is None:
        raise SimulatorGapError(
            f"healthexporter simulator does not implement {parent}.{info.field_name}"
        )
    return resolver(source, info.context, args)


def _resolve_type(value: Any, info: GraphQLResolveInfo[_Context], abstract_type: Any) -> str:
    if isinstance(value, SimItem):
        return "PullRequest" if value.kind == "pull_request" else "Issue"
    if isinstance(value, _Actor):
        return value.kind
    if isinstance(value, SimTimelineEntry):
        return value.type
    if isinstance(value, _Commit):
        return "Commit"
    if isinstance(value, _TagObject):
        return "Tag"
    raise SimulatorGapError(f"healthexporter simulator cannot resolve the type of {value!r}")


def _gap(what: str) -> SimulatorGapError:
    return SimulatorGapError(f"healthexporter simulator does not implement {what}")


def _not_found(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"type": "NOT_FOUND"})


def _register(type_names: str, field_name: str, resolver: _Resolver) -> None:
    for type_name in type_names.split():
        _RESOLVERS[(type_name, field_name)] = resolver


def _reject_args(where: str, args: Mapping[str, Any], supported: set[str]) -> None:
    """Arguments the simulator ignores would give wrong answers: refuse them instead."""
    for name, value in args.items():
        if name not in supported and value is not None:
            raise _gap(f"argument `{name}` of {where}")


# --- connections and cursors --------------------------------------------------------------------

Key = tuple[Any, ...]


@dataclass(frozen=True)
class _Sorted:
    """Values in ascending key order, their keys (for bisection), and the cursor namespace."""

    order: str
    values: Sequence[Any]
    keys: Sequence[Key]


@dataclass(frozen=True)
class _Page:
    total: int
    values: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool


@dataclass(frozen=True)
class _Edge:
    cursor: str
    node: Any


def encode_cursor(order: str, key: Key) -> str:
    raw = "cursor:v2:" + json.dumps([order, *key], separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(order: str, cursor: str, argument: str) -> Key:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
        parts = json.loads(raw.removeprefix("cursor:v2:")) if raw.startswith("cursor:v2:") else []
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        parts = []
    if not isinstance(parts, list) or len(parts) < 2 or parts[0] != order:
        raise GraphQLError(
            f"`{argument}` does not appear to be a valid cursor.",
            extensions={"type": "INVALID_CURSOR_ARGUMENTS"},
        )
    return tuple(parts[1:])


def _paginate(
    view: _Sorted,
    args: Mapping[str, Any],
    *,
    descending: bool = False,
    lo: int = 0,
    hi: int | None = None,
) -> _Page:
    """Relay pagination over ``view.values[lo:hi]`` read ascending or descending by key."""
    keys = view.keys
    hi = len(keys) if hi is None else hi
    start, end = lo, hi  # ascending index window still eligible after the cursors
    after, before = args.get("after"), args.get("before")
    if after is not None:
        key = decode_cursor(view.order, after, "$after")
        if descending:
            end = min(end, bisect.bisect_left(keys, key, lo, hi))
        else:
            start = max(start, bisect.bisect_right(keys, key, lo, hi))
    if before is not None:
        key = decode_cursor(view.order, before, "$before")
        if descending:
            start = max(start, bisect.bisect_right(keys, key, lo, hi))
        else:
            end = min(end, bisect.bisect_left(keys, key, lo, hi))
    end = max(start, end)
    first, last = args.get("first"), args.get("last")
    if first is not None:  # first items in reading order
        if descending:
            start = max(start, end - first)
        else:
            end = min(end, start + first)
    if last is not None:
        if descending:
            end = min(end, start + last)
        else:
            start = max(start, end - last)
    indices = range(end - 1, start - 1, -1) if descending else range(start, end)
    values = [view.values[i] for i in indices]
    cursors = [encode_cursor(view.order, keys[i]) for i in indices]
    before_slice, after_slice = start > lo, end < hi
    if descending:
        before_slice, after_slice = after_slice, before_slice
    return _Page(hi - lo, values, cursors, has_next=after_slice, has_previous=before_slice)


def _cursor_at(page: _Page, index: int) -> str | None:
    return page.cursors[index] if page.cursors else None


_PAGE_FIELDS: dict[str, _Resolver] = {
    "totalCount": lambda page, ctx, args: page.total,
    "nodes": lambda page, ctx, args: page.values,
    "edges": lambda page, ctx, args: [
        _Edge(c, v) for c, v in zip(page.cursors, page.values, strict=True)
    ],
    "pageInfo": lambda page, ctx, args: page,
}
_EDGE_FIELDS: dict[str, _Resolver] = {
    "cursor": lambda edge, ctx, args: edge.cursor,
    "node": lambda edge, ctx, args: edge.node,
}
_register("PageInfo", "hasNextPage", lambda page, ctx, args: page.has_next)
_register("PageInfo", "hasPreviousPage", lambda page, ctx, args: page.has_previous)
_register("PageInfo", "startCursor", lambda page, ctx, args: _cursor_at(page, 0))
_register("PageInfo", "endCursor", lambda page, ctx, args: _cursor_at(page, -1))


def _micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


# --- cached sorted views of a repository ---------------------------------------------------------


class _ViewCache:
    """Sorted views of a repository's items and commits, rebuilt when its version changes."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, ...], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def items(
        self, dataset: Dataset, repo: SimRepository, kind: str, order: str, states: tuple[str, ...]
    ) -> _Sorted:
        def build() -> _Sorted:
            wanted = [i for i in repo.items if i.kind == kind and (not states or i.state in states)]
            key = _ITEM_KEYS[order]
            pairs = sorted(((key(i), i) for i in wanted), key=lambda p: p[0])
            return _Sorted(order, [p[1] for p in pairs], [p[0] for p in pairs])

        return self._get(dataset, repo, ("items", kind, order, *states), build)

    def history(self, dataset: Dataset, repo: SimRepository) -> _History:
        def build() -> _History:
            oldest_first = list(reversed(repo.commits))
            return _History(
                _Sorted("history", oldest_first, [(i,) for i in range(len(oldest_first))]),
                {c.oid: i for i, c in enumerate(oldest_first)},
            )

        return self._get(dataset, repo, ("history",), build)

    def _get(
        self, dataset: Dataset, repo: SimRepository, what: tuple[str, ...], build: Callable[[], _T]
    ) -> _T:
        repo_key = repo.full_name.lower()
        version = dataset.repo_versions.get(repo_key, 0)
        cache_key = (repo_key, *what)
        with self._lock:
            cached = self._views.get(cache_key)
        if cached is not None and cached[0] == version:
            view: _T = cached[1]
            return view
        view = build()
        with self._lock:
            self._views[cache_key] = (version, view)
        return view


@dataclass(frozen=True)
class _History:
    """Default-branch commits oldest first, keyed by position from the oldest (a commit's key
    does not change when newer commits are pushed), and each commit's position by oid."""

    view: _Sorted
    positions: Mapping[str, int]


_ITEM_KEYS: dict[str, Callable[[SimItem], Key]] = {
    "CREATED_AT": lambda i: (_micros(i.created_at), i.number),
    "UPDATED_AT": lambda i: (_micros(i.updated_at), i.number),
    "COMMENTS": lambda i: (sum(e.type == "IssueComment" for e in i.timeline), i.number),
}


# --- wrapped values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Actor:
    """A user, bot, mannequin or organization as GraphQL shows it."""

    rest_login: str
    kind: str
    user: SimUser | None

    @property
    def login(self) -> str:
        # GitHub's GraphQL names a bot without the "[bot]" its REST login carries.
        if self.kind == "Bot":
            return self.rest_login.removesuffix("[bot]")
        return self.rest_login


def _actor(ctx: _Context, login: str | None) -> _Actor | None:
    if login is None:  # deleted account ("ghost"): GitHub answers null
        return None
    user = ctx.dataset.user(login)
    if user is not None:
        return _Actor(user.login, user.kind, user)
    if login.endswith("[bot]"):
        return _Actor(login, "Bot", None)
    if any(r.owner.lower() == login.lower() for r in ctx.dataset.repositories.values()):
        return _Actor(login, "Organization", None)
    return _Actor(login, "User", None)


def _owner(ctx: _Context, login: str) -> _Actor | None:
    """A ``RepositoryOwner``: only users and organizations own repositories."""
    actor = _actor(ctx, login)
    if actor is None or actor.kind not in ("User", "Organization"):
        return None
    if actor.user is None and actor.kind == "User":
        return None  # unknown login
    return actor


@dataclass(frozen=True)
class _Ref:
    repo: SimRepository
    prefix: str
    name: str
    target: _Commit | _TagObject | None


@dataclass(frozen=True)
class _Commit:
    """A commit and the repository whose history it belongs to."""

    repo: SimRepository
    commit: SimCommit


@dataclass(frozen=True)
class _TagObject:
    """An annotated tag object (``Tag``), pointing at a commit."""

    tag: SimTag
    commit: _Commit


@dataclass(frozen=True)
class _GitActor:
    name: str | None
    email: str | None
    date: datetime | None
    login: str | None


# --- Query ---------------------------------------------------------------------------------------


def _query_repository(_: Any, ctx: _Context, args: dict[str, Any]) -> SimRepository | None:
    if ctx.dry_run:
        return None
    owner, name = args["owner"], args["name"]
    repo = ctx.dataset.repository(owner, name)
    if repo is None and args.get("followRenames", True):
        repo = ctx.dataset.renamed_repository(owner, name)
    if repo is None:
        raise _not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return repo


def _query_repository_owner(_: Any, ctx: _Context, args: dict[str, Any]) -> _Actor | None:
    return None if ctx.dry_run else _owner(ctx, args["login"])


def _query_user(_: Any, ctx: _Context, args: dict[str, Any]) -> _Actor | None:
    if ctx.dry_run:
        return None
    owner = _owner(ctx, args["login"])
    if owner is None or owner.kind != "User":
        raise _not_found(f"Could not resolve to a User with the login of '{args['login']}'.")
    return owner


def _query_organization(_: Any, ctx: _Context, args: dict[str, Any]) -> _Actor | None:
    if ctx.dry_run:
        return None
    owner = _owner(ctx, args["login"])
    if owner is None or owner.kind != "Organization":
        message = f"Could not resolve to an Organization with the login of '{args['login']}'."
        raise _not_found(message)
    return owner


_register("Query", "repository", _query_repository)
_register("Query", "repositoryOwner", _query_repository_owner)
_register("Query", "user", _query_user)
_register("Query", "organization", _query_organization)
_register("Query", "rateLimit", lambda _, ctx, args: ctx)
_register("RateLimit", "cost", lambda ctx, _, args: ctx.cost.cost)
_register("RateLimit", "nodeCount", lambda ctx, _, args: ctx.cost.node_count)
_register("RateLimit", "limit", lambda ctx, _, args: ctx.rate.limit)
_register("RateLimit", "remaining", lambda ctx, _, args: ctx.rate.remaining)
_register("RateLimit", "used", lambda ctx, _, args: ctx.rate.used)
_register(
    "RateLimit",
    "resetAt",
    lambda ctx, _, args: format_time(datetime.fromtimestamp(ctx.rate.reset_at, UTC)),
)

# --- actors and owners --------------------------------------------------------------------------

_ACTOR_TYPES = "User Bot Mannequin Organization EnterpriseUserAccount"
_register(_ACTOR_TYPES, "login", lambda a, ctx, args: a.login)
_register(
    _ACTOR_TYPES,
    "id",
    lambda a, ctx, args: a.user.node_id if a.user else node_id(a.kind[0], a.rest_login),
)
_register(_ACTOR_TYPES, "databaseId", lambda a, ctx, args: a.user.database_id if a.user else None)
_register("User", "company", lambda a, ctx, args: a.user.company if a.user else None)


def _owner_repositories(owner: _Actor, ctx: _Context, args: dict[str, Any]) -> _Page:
    where = f"{owner.kind}.repositories"
    # ownerAffiliations has a schema default ([OWNER, COLLABORATOR]): an owner owns them all
    supported = {"first", "last", "after", "before", "orderBy", "isFork", "ownerAffiliations"}
    _reject_args(where, args, supported)
    repos = ctx.dataset.org_repositories(owner.rest_login)
    if args.get("isFork") is not None:
        repos = [r for r in repos if r.is_fork == args["isFork"]]
    order = args.get("orderBy") or {"field": "NAME", "direction": "ASC"}
    keys: dict[str, Callable[[SimRepository], Key]] = {
        "NAME": lambda r: (r.name.lower(),),
        "CREATED_AT": lambda r: (_micros(r.created_at), r.name.lower()),
        "UPDATED_AT": lambda r: (_micros(r.updated_at or r.created_at), r.name.lower()),
        "PUSHED_AT": lambda r: (_micros(r.pushed_at or r.created_at), r.name.lower()),
    }
    if order["field"] not in keys:
        raise _gap(f"{where}(orderBy: {{field: {order['field']}}})")
    key = keys[order["field"]]
    pairs = sorted(((key(r), r) for r in repos), key=lambda p: p[0])
    view = _Sorted(f"repos:{order['field']}", [p[1] for p in pairs], [p[0] for p in pairs])
    return _paginate(view, args, descending=order["direction"] == "DESC")


_register("User Organization", "repositories", _owner_repositories)


def _owner_repository(owner: _Actor, ctx: _Context, args: dict[str, Any]) -> SimRepository | None:
    return ctx.dataset.repository(owner.rest_login, args["name"])


_register("User Organization", "repository", _owner_repository)

# --- Repository ---------------------------------------------------------------------------------

_register("Repository", "id", lambda r, ctx, args: r.node_id)
_register("Repository", "databaseId", lambda r, ctx, args: r.database_id)
_register("Repository", "name", lambda r, ctx, args: r.name)
_register("Repository", "nameWithOwner", lambda r, ctx, args: r.full_name)
_register("Repository", "owner", lambda r, ctx, args: _actor(ctx, r.owner))
_register("Repository", "isArchived", lambda r, ctx, args: r.is_archived)
_register("Repository", "isFork", lambda r, ctx, args: r.is_fork)
_register("Repository", "isEmpty", lambda r, ctx, args: r.is_empty)
_register("Repository", "createdAt", lambda r, ctx, args: format_time(r.created_at))
_register("Repository", "pushedAt", lambda r, ctx, args: format_time(r.pushed_at))
_register("Repository", "updatedAt", lambda r, ctx, args: format_time(r.updated_at or r.created_at))


def _default_branch_ref(repo: SimRepository, ctx: _Context, args: dict[str, Any]) -> _Ref | None:
    if not repo.commits:
        return None  # an empty repository has no default branch yet
    return _Ref(repo, "refs/heads/", repo.default_branch, _Commit(repo, repo.commits[0]))


_register("Repository", "defaultBranchRef", _default_branch_ref)


def _items(repo: SimRepository, ctx: _Context, args: dict[str, Any], kind: str) -> _Page:
    where = "Repository.pullRequests" if kind == "pull_request" else "Repository.issues"
    _reject_args(
        where, args, {"first", "last", "after", "before", "orderBy", "states", "filterBy", "labels"}
    )
    states = tuple(sorted(args.get("states") or ()))
    since: datetime | None = None
    filters = dict(args.get("filterBy") or {})
    if filters:
        if not filters.get("viewerSubscribed"):
            filters.pop("viewerSubscribed", None)  # the schema's default, false: no filter
        since = parse_time(filters.pop("since", None))
        states = tuple(sorted(set(states) | set(filters.pop("states", None) or ())))
        if filters.get("labels") is not None:
            args = {**args, "labels": filters.pop("labels")}
        _reject_args(f"{where}(filterBy:)", filters, set())
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    view = ctx.views.items(ctx.dataset, repo, kind, order["field"], states)
    lo = 0
    if args.get("labels") is not None or (since is not None and order["field"] != "UPDATED_AT"):
        labels = set(args.get("labels") or ())
        kept = [
            (k, v)
            for k, v in zip(view.keys, view.values, strict=True)
            if (not labels or labels & set(v.labels)) and (since is None or v.updated_at >= since)
        ]
        view = _Sorted(view.order, [p[1] for p in kept], [p[0] for p in kept])
    elif since is not None:  # the UPDATED_AT order makes `since` a range: bisect to it
        lo = bisect.bisect_left(view.keys, (_micros(since),))
    return _paginate(view, args, descending=order["direction"] == "DESC", lo=lo)


def _item(repo: SimRepository, ctx: _Context, number: int, kind: str) -> SimItem | None:
    item = repo.item(number)
    if item is None or item.kind != kind:
        typename = "PullRequest" if kind == "pull_request" else "Issue"
        raise _not_found(f"Could not resolve to a {typename} with the number of {number}.")
    return item


_register("Repository", "pullRequests", lambda r, ctx, args: _items(r, ctx, args, "pull_request"))
_register("Repository", "issues", lambda r, ctx, args: _items(r, ctx, args, "issue"))
_register(
    "Repository", "pullRequest", lambda r, ctx, args: _item(r, ctx, args["number"], "pull_request")
)
_register("Repository", "issue", lambda r, ctx, args: _item(r, ctx, args["number"], "issue"))


def _releases(repo: SimRepository, ctx: _Context, args: dict[str, Any]) -> _Page:
    _reject_args("Repository.releases", args, {"first", "last", "after", "before", "orderBy"})
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "DESC"}
    keys: dict[str, Callable[[SimRelease], Key]] = {
        "CREATED_AT": lambda r: (_micros(r.created_at), r.tag_name),
        "NAME": lambda r: (r.tag_name,),
    }
    key = keys[order["field"]]
    pairs = sorted(((key(r), r) for r in repo.releases), key=lambda p: p[0])
    view = _Sorted(f"releases:{order['field']}", [p[1] for p in pairs], [p[0] for p in pairs])
    return _paginate(view, args, descending=order["direction"] == "DESC")


_register("Repository", "releases", _releases)


def _refs(repo: SimRepository, ctx: _Context, args: dict[str, Any]) -> _Page:
    supported = {"first", "last", "after", "before", "orderBy", "refPrefix", "direction"}
    _reject_args("Repository.refs", args, supported)
    prefix = args["refPrefix"]
    refs: list[_Ref] = []
    if prefix == "refs/tags/":
        commits = {c.oid: c for c in repo.commits}
        for tag in repo.tags:
            # a tag on a commit outside the default branch: dated by the tag
            sim = commits.get(tag.commit_oid) or SimCommit(
                tag.commit_oid, tag.tagged_at, tag.tagged_at, None, "", ""
            )
            commit = _Commit(repo, sim)
            target = _TagObject(tag, commit) if tag.annotated else commit
            refs.append(_Ref(repo, prefix, tag.name, target))
    elif prefix == "refs/heads/" and repo.commits:
        refs.append(_Ref(repo, prefix, repo.default_branch, _Commit(repo, repo.commits[0])))
    order = args.get("orderBy") or {"field": "ALPHABETICAL", "direction": "ASC"}
    direction = args.get("direction") or order["direction"]

    def key(ref: _Ref) -> Key:
        if order["field"] == "TAG_COMMIT_DATE":
            commit = ref.target.commit if isinstance(ref.target, _TagObject) else ref.target
            return (_micros(commit.commit.committed_date) if commit else 0, ref.name)
        return (ref.name,)

    pairs = sorted(((key(r), r) for r in refs), key=lambda p: p[0])
    view = _Sorted(f"refs:{order['field']}", [p[1] for p in pairs], [p[0] for p in pairs])
    return _paginate(view, args, descending=direction == "DESC")


_register("Repository", "refs", _refs)

# --- refs, commits, tags ------------------------------------------------------------------------

_register("Ref", "name", lambda ref, ctx, args: ref.name)
_register("Ref", "prefix", lambda ref, ctx, args: ref.prefix)
_register(
    "Ref", "id", lambda ref, ctx, args: node_id("REF", ref.repo.full_name, ref.prefix + ref.name)
)
_register("Ref", "target", lambda ref, ctx, args: ref.target)
_register("Ref", "repository", lambda ref, ctx, args: ref.repo)

_register("Commit", "oid", lambda c, ctx, args: c.commit.oid)
_register("Commit", "abbreviatedOid", lambda c, ctx, args: c.commit.oid[:7])
_register("Commit", "id", lambda c, ctx, args: node_id("C", c.commit.oid))
_register("Commit", "committedDate", lambda c, ctx, args: format_time(c.commit.committed_date))
_register("Commit", "authoredDate", lambda c, ctx, args: format_time(c.commit.authored_date))
_register("Commit", "repository", lambda c, ctx, args: c.repo)


def _commit_author(c: _Commit, ctx: _Context, args: dict[str, Any]) -> _GitActor:
    sim = c.commit
    return _GitActor(sim.author_name, sim.author_email, sim.authored_date, sim.author_login)


_register("Commit", "author", _commit_author)


def _history(start: _Commit, ctx: _Context, args: dict[str, Any]) -> _Page:
    _reject_args("Commit.history", args, {"first", "last", "after", "before", "since", "until"})
    history = ctx.views.history(ctx.dataset, start.repo)
    position = history.positions.get(start.commit.oid)
    if position is None:  # not on the default branch: the dataset has no history for it
        return _Page(0, [], [], False, False)
    view, hi = history.view, position + 1  # this commit and everything older
    since, until = parse_time(args.get("since")), parse_time(args.get("until"))
    if since is not None or until is not None:
        kept = [
            (k, c)
            for k, c in zip(view.keys[:hi], view.values[:hi], strict=True)
            if (since is None or c.committed_date >= since)
            and (until is None or c.committed_date <= until)
        ]
        view = _Sorted(view.order, [p[1] for p in kept], [p[0] for p in kept])
        hi = len(kept)
    page = _paginate(view, args, descending=True, hi=hi)
    return replace(page, values=[_Commit(start.repo, c) for c in page.values])


_register("Commit", "history", _history)

_register("GitActor", "name", lambda a, ctx, args: a.name)
_register("GitActor", "email", lambda a, ctx, args: a.email)
_register("GitActor", "date", lambda a, ctx, args: format_time(a.date))


def _git_actor_user(actor: _GitActor, ctx: _Context, args: dict[str, Any]) -> _Actor | None:
    found = _actor(ctx, actor.login)
    return found if found is not None and found.kind == "User" else None


_register("GitActor", "user", _git_actor_user)

_register("Tag", "name", lambda t, ctx, args: t.tag.name)
_register("Tag", "oid", lambda t, ctx, args: hashlib.sha1(f"tag:{t.tag.name}".encode()).hexdigest())
_register("Tag", "id", lambda t, ctx, args: node_id("TAG", t.tag.name, t.commit.commit.oid))
_register("Tag", "target", lambda t, ctx, args: t.commit)
_register("Tag", "repository", lambda t, ctx, args: t.commit.repo)
_register("Tag", "tagger", lambda t, ctx, args: _GitActor(None, None, t.tag.tagged_at, None))

# --- releases -----------------------------------------------------------------------------------

_register("Release", "id", lambda r, ctx, args: r.node_id)
_register("Release", "databaseId", lambda r, ctx, args: r.database_id or None)
_register("Release", "tagName", lambda r, ctx, args: r.tag_name)
_register("Release", "createdAt", lambda r, ctx, args: format_time(r.created_at))
_register("Release", "publishedAt", lambda r, ctx, args: format_time(r.published_at))
_register("Release", "isPrerelease", lambda r, ctx, args: r.is_prerelease)
_register("Release", "isDraft", lambda r, ctx, args: r.is_draft)


def _release_author(release: SimRelease, ctx: _Context, args: dict[str, Any]) -> _Actor | None:
    found = _actor(ctx, release.author)
    return found if found is not None and found.kind == "User" else None


_register("Release", "author", _release_author)

# --- pull requests and issues -------------------------------------------------------------------

_ITEMS = "PullRequest Issue"
_register(_ITEMS, "id", lambda i, ctx, args: i.node_id)
_register(_ITEMS, "databaseId", lambda i, ctx, args: i.database_id)
_register(_ITEMS, "number", lambda i, ctx, args: i.number)
_register(_ITEMS, "state", lambda i, ctx, args: i.state)
_register(_ITEMS, "closed", lambda i, ctx, args: i.state != "OPEN")
_register(_ITEMS, "createdAt", lambda i, ctx, args: format_time(i.created_at))
_register(_ITEMS, "updatedAt", lambda i, ctx, args: format_time(i.updated_at))
_register(_ITEMS, "closedAt", lambda i, ctx, args: format_time(i.closed_at))
_register(_ITEMS, "authorAssociation", lambda i, ctx, args: i.author_association)
_register(_ITEMS, "author", lambda i, ctx, args: _actor(ctx, i.author))
_register("PullRequest", "isDraft", lambda i, ctx, args: i.is_draft)
_register("PullRequest", "merged", lambda i, ctx, args: i.state == "MERGED")
_register("PullRequest", "mergedAt", lambda i, ctx, args: format_time(i.merged_at))
_register("PullRequest", "mergedBy", lambda i, ctx, args: _actor(ctx, i.merged_by))


def _labels(item: SimItem, ctx: _Context, args: dict[str, Any]) -> _Page:
    _reject_args("labels", args, {"first", "last", "after", "before", "orderBy"})
    # the dataset keeps labels in the order they were added: CREATED_AT, the schema's default
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    if order["field"] == "NAME":
        keys: list[Key] = [(name,) for name in sorted(item.labels)]
        view = _Sorted("labels:NAME", [k[0] for k in keys], keys)
    else:
        view = _Sorted("labels", item.labels, [(i,) for i in range(len(item.labels))])
    return _paginate(view, args, descending=order["direction"] == "DESC")


_register(_ITEMS, "labels", _labels)
_register("Label", "name", lambda name, ctx, args: name)
_register("Label", "id", lambda name, ctx, args: node_id("LA", name))

# GitHub's itemTypes enum values for the entry types the dataset holds.
_ITEM_TYPES = {
    "ISSUE_COMMENT": "IssueComment",
    "PULL_REQUEST_REVIEW": "PullRequestReview",
    "READY_FOR_REVIEW_EVENT": "ReadyForReviewEvent",
    "CONVERT_TO_DRAFT_EVENT": "ConvertToDraftEvent",
    "CLOSED_EVENT": "ClosedEvent",
    "MERGED_EVENT": "MergedEvent",
    "REOPENED_EVENT": "ReopenedEvent",
}


def _timeline(item: SimItem, ctx: _Context, args: dict[str, Any]) -> _Page:
    _reject_args("timelineItems", args, {"first", "last", "after", "before", "since", "itemTypes"})
    wanted: set[str] | None = None
    if args.get("itemTypes") is not None:
        # types the dataset never holds simply match nothing, as on a quiet GitHub timeline
        wanted = {_ITEM_TYPES.get(t, t) for t in args["itemTypes"]}
    since = parse_time(args.get("since"))
    kept = []
    for entry in item.timeline:
        if wanted is not None and entry.type not in wanted:
            continue
        if since is not None and (entry.submitted_at or entry.created_at) < since:
            continue
        kept.append(((_micros(entry.created_at), entry.id), entry))
    kept.sort(key=lambda p: p[0])
    view = _Sorted("timeline", [p[1] for p in kept], [p[0] for p in kept])
    return _paginate(view, args)


_register(_ITEMS, "timelineItems", _timeline)

_ENTRY_TYPES = " ".join(
    (
        "IssueComment PullRequestReview ReadyForReviewEvent ConvertToDraftEvent",
        "ClosedEvent MergedEvent ReopenedEvent",
    )
)
_EVENT_TYPES = "ReadyForReviewEvent ConvertToDraftEvent ClosedEvent MergedEvent ReopenedEvent"
_register(_ENTRY_TYPES, "id", lambda e, ctx, args: e.id)
_register(_ENTRY_TYPES, "createdAt", lambda e, ctx, args: format_time(e.created_at))
_register(_EVENT_TYPES, "actor", lambda e, ctx, args: _actor(ctx, e.actor))
_register("IssueComment PullRequestReview", "author", lambda e, ctx, args: _actor(ctx, e.actor))
_register(
    "IssueComment PullRequestReview",
    "authorAssociation",
    lambda e, ctx, args: e.author_association or "NONE",
)
_register("PullRequestReview", "state", lambda e, ctx, args: e.review_state or "COMMENTED")
_register("PullRequestReview", "submittedAt", lambda e, ctx, args: format_time(e.submitted_at))


__all__ = ["GraphQLEngine", "GraphQLResult", "SimulatorGapError", "decode_cursor", "encode_cursor"]
