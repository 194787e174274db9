"""Fault injection for the simulator: which requests fail, how, and what GitHub answers then.

GitHub fails in a handful of ways the exporter must survive: 5xx answers, requests that hang,
connections that are reset, secondary rate limits with ``Retry-After``, an exhausted primary
limit, bodies that are not JSON or are cut short, GraphQL answers with partial ``errors`` or
``RATE_LIMITED``, and tokens that stop working. A :class:`FaultPlan` says which of those hit
which requests; the server asks it once per API request (``decide``) and acts out the answer.

A plan is built in code from :class:`FaultRule` values or parsed from a SPEC string (the
``--faults`` option and ``POST /_simulator/faults``). Grammar::

    SPEC  := RULE ( ";" RULE )*
    RULE  := KIND ( " " PARAM )*
    KIND  := 500 | 502 | 503      answer that status with GitHub's error body
           | timeout              hang ``seconds`` (default 30), then close without answering
                                  (``then=answer``: answer normally after the hang)
           | reset                TCP reset (SO_LINGER 0, close): no response at all
           | secondary            secondary rate limit: ``status`` 403 (default) or 429, with
                                  ``Retry-After: seconds`` (default 60; ``seconds=0`` omits it)
           | exhaust              drain the token's bucket (core or graphql) until its reset,
                                  then answer normally (so: GitHub's primary-limit answer)
           | malformed            HTTP 200 whose body is not valid JSON
           | truncate             Content-Length larger than the body sent, then close
           | partial              GraphQL only: HTTP 200 with ``data`` (first field null) and
                                  ``errors``
           | rate_limited         GraphQL only: HTTP 200 with an error of type RATE_LIMITED
           | 401                  Bad credentials
    PARAM := api=graphql|rest|any  which requests the rule sees (default any; GraphQL-only
                                  kinds default to graphql)
           | op=NAME               only requests of this operation: the GraphQL operationName,
                                  or the REST route template such as
                                  ``GET /repos/{owner}/{repo}/issues``
           | at=N | at=N-M | at=N-  the N-th (to M-th, or every from N-th) request this rule
                                  sees, counting from 1
           | p=FLOAT               fire with this probability per request (seeded, so runs
                                  repeat exactly)
           | seed=N                seed of ``p`` (default 1)
           | count=N | count=*     fire at most N times; default: the size of ``at``, unlimited
                                  for ``p`` and open ranges, otherwise 1 (the next request)
           | seconds=FLOAT | status=403|429 | then=close|answer   as described above

Examples: ``502 api=graphql at=3-5`` (the 3rd to 5th GraphQL request answer 502),
``reset api=rest p=0.1 count=5 seed=7``, ``secondary status=429 seconds=2 at=1;
timeout seconds=5 api=graphql op=RepositoryItems``.

Every request a rule sees advances its counter and, with ``p``, draws one random number, even
when an earlier rule fires; so adding a rule never shifts when another one fires.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Api = Literal["graphql", "rest", "any"]

KINDS = (
    "500",
    "502",
    "503",
    "timeout",
    "reset",
    "secondary",
    "exhaust",
    "malformed",
    "truncate",
    "partial",
    "rate_limited",
    "401",
)
GRAPHQL_ONLY = ("partial", "rate_limited")
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
MALFORMED_BODY = b'{"data": {"repository": {"pullRequests": {"nodes": [{"number": 1,'


@dataclass(frozen=True)
class FaultRule:
    """One line of a plan: ``kind`` hits requests of ``api`` (and ``operation``) at ordinals
    ``first``..``last`` (``last`` None = open) or with ``probability``; at most ``count`` times
    (None = unlimited). ``seconds``: how long ``timeout`` hangs or ``secondary``'s Retry-After."""

    kind: str
    api: Api | None = None  # None: any, or graphql for GraphQL-only kinds
    operation: str | None = None
    first: int | None = None
    last: int | None = None
    probability: float | None = None
    seed: int = 1
    count: int | Literal["default"] | None = "default"
    seconds: float | None = None
    status: int | None = None
    then: Literal["close", "answer"] = "close"

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind in GRAPHQL_ONLY and self.api not in (None, "graphql"):
            problems.append(f"{self.kind} applies to GraphQL requests only")
        if self.first is not None and self.first < 1:
            problems.append("at= counts from 1")
        if self.first is not None and self.last is not None and self.last < self.first:
            problems.append("at=N-M needs M >= N")
        if self.last is not None and self.first is None:
            problems.append("last needs first")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            problems.append("p= must be between 0 and 1")
        if self.first is not None and self.probability is not None:
            problems.append("use either at= or p=, not both")
        if self.status is not None and self.kind == "secondary" and self.status not in (403, 429):
            problems.append("secondary status must be 403 or 429")
        if self.seconds is not None and (self.seconds < 0 or math.isnan(self.seconds)):
            problems.append("seconds= must not be negative")
        if isinstance(self.count, int) and self.count < 0:
            problems.append("count= must not be negative")
        if problems:
            raise ValueError(f"fault {self.kind!r}: " + "; ".join(problems))

    @property
    def target(self) -> Api:
        if self.api is not None:
            return self.api
        return "graphql" if self.kind in GRAPHQL_ONLY else "any"

    @property
    def max_fires(self) -> int | None:
        if self.count != "default":
            return self.count
        if self.first is not None:
            return None if self.last is None else self.last - self.first + 1
        return None if self.probability is not None else 1

    @property
    def hang_seconds(self) -> float:
        return 30.0 if self.seconds is None else self.seconds

    @property
    def retry_after(self) -> int | None:
        seconds = 60.0 if self.seconds is None else self.seconds
        return math.ceil(seconds) if seconds > 0 else None

    def sees(self, api: Literal["graphql", "rest"], operation: str | None) -> bool:
        if self.target not in ("any", api):
            return False
        return self.operation is None or self.operation == operation

    def spec(self) -> str:
        """This rule in the SPEC grammar (``FaultPlan.parse`` reads it back)."""
        parts = [self.kind]
        if self.api is not None:
            parts.append(f"api={self.api}")
        if self.operation is not None:
            parts.append(f"op={self.operation}")
        if self.first is not None:
            parts.append(f"at={self.first}-{'' if self.last is None else self.last}")
        if self.probability is not None:
            parts.append(f"p={self.probability}")
            parts.append(f"seed={self.seed}")
        if self.count != "default":
            parts.append(f"count={'*' if self.count is None else self.count}")
        if self.seconds is not None:
            parts.append(f"seconds={self.seconds}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.then != "close":
            parts.append(f"then={self.then}")
        return " ".join(parts)


@dataclass
class _RuleState:
    seen: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)


class FaultPlan:
    """Rules plus their progress (ordinals seen, times fired). Thread-safe."""

    def __init__(self, rules: Iterable[FaultRule] = ()) -> None:
        self.rules = tuple(rules)
        self._lock = threading.Lock()
        self._states = [_RuleState(rng=random.Random(rule.seed)) for rule in self.rules]

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Read a SPEC (grammar in the module docstring); every problem is reported at once."""
        rules: list[FaultRule] = []
        problems: list[str] = []
        for text in spec.split(";"):
            if not text.strip():
                continue
            try:
                rules.append(_parse_rule(text))
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        return cls(rules)

    def spec(self) -> str:
        return "; ".join(rule.spec() for rule in self.rules)

    def decide(self, api: Literal["graphql", "rest"], operation: str | None) -> FaultRule | None:
        """The rule that fires for this request, if any; records the firing."""
        chosen: FaultRule | None = None
        with self._lock:
            for rule, state in zip(self.rules, self._states, strict=True):
                if not rule.sees(api, operation):
                    continue
                state.seen += 1
                draw = state.rng.random() if rule.probability is not None else 0.0
                if chosen is not None:
                    continue
                limit = rule.max_fires
                if limit is not None and state.fired >= limit:
                    continue
                if rule.first is not None:
                    hit = state.seen >= rule.first and (
                        rule.last is None or state.seen <= rule.last
                    )
                elif rule.probability is not None:
                    hit = draw < rule.probability
                else:
                    hit = True
                if hit:
                    state.fired += 1
                    chosen = rule
        return chosen

    def fired(self) -> dict[str, int]:
        """How often each rule fired, keyed by its spec."""
        with self._lock:
            return {
                rule.spec(): state.fired
                for rule, state in zip(self.rules, self._states, strict=True)
            }


_APIS: dict[str, Api] = {"graphql": "graphql", "rest": "rest", "any": "any"}
_THENS: dict[str, Literal["close", "answer"]] = {"close": "close", "answer": "answer"}


def _parse_rule(text: str) -> FaultRule:
    words = text.split()
    kind, params = words[0], words[1:]
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
    values: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not value:
            raise ValueError(f"fault {kind!r}: parameter {param!r} is not KEY=VALUE")
        if key in values:
            raise ValueError(f"fault {kind!r}: {key}= given twice")
        values[key] = value
    known = {"api", "op", "at", "p", "seed", "count", "seconds", "status", "then"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"fault {kind!r}: unknown parameter(s) {', '.join(unknown)}")
    try:
        api: Api | None = None
        if "api" in values:
            if values["api"] not in _APIS:
                raise ValueError(f"api must be graphql, rest or any, not {values['api']!r}")
            api = _APIS[values["api"]]
        first = last = None
        if "at" in values:
            low, dash, high = values["at"].partition("-")
            first = int(low)
            last = (int(high) if high else None) if dash else first
        count: int | Literal["default"] | None = "default"
        if "count" in values:
            count = None if values["count"] == "*" else int(values["count"])
        then_text = values.get("then", "close")
        if then_text not in _THENS:
            raise ValueError(f"then must be close or answer, not {then_text!r}")
        then = _THENS[then_text]
        return FaultRule(
            kind=kind,
            api=api,
            operation=values.get("op"),
            first=first,
            last=last,
            probability=float(values["p"]) if "p" in values else None,
            seed=int(values.get("seed", "1")),
            count=count,
            seconds=float(values["seconds"]) if "seconds" in values else None,
            status=int(values["status"]) if "status" in values else None,
            then=then,
        )
    except ValueError as error:
        message = str(error)
        if message.startswith("fault "):
            raise
        raise ValueError(f"fault {kind!r}: {message}") from None


# --- what GitHub answers --------------------------------------------------------------------


def graphql_failure(request_id: str) -> dict[str, Any]:
    """GitHub's error when a query fails or runs out of time (with 502, or within partial
    data)."""
    return {
        "message": (
            "Something went wrong while executing your query. This may be the result of a "
            "timeout, or it could be a GitHub bug. Please include "
            f"`{request_id}` when reporting this issue."
        )
    }


def server_error_body(status: int, graphql: bool, request_id: str) -> dict[str, Any]:
    if graphql:
        return {"data": None, "errors": [graphql_failure(request_id)]}
    return {"message": "Service Unavailable" if status == 503 else "Server Error"}


def secondary_limit_body(request_id: str) -> dict[str, Any]:
    message = (
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        "again. If you reach out to GitHub Support for help, please include the request ID "
        f"{request_id}."
    )
    return {"message": message, "documentation_url": SECONDARY_DOCS}


def graphql_rate_limited_body(user_id: int) -> dict[str, Any]:
    """GraphQL's primary-limit answer: HTTP 200 with an error of type RATE_LIMITED."""
    error = {"type": "RATE_LIMITED", "message": f"API rate limit exceeded for user ID {user_id}."}
    return {"errors": [error]}


def partial_body(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Null the first top-level field (other than ``rateLimit``) and report it in ``errors``,
    as GitHub does when part of a query fails."""
    data = body.get("data")
    if not isinstance(data, dict):
        return body
    fields = [name for name in data if name != "rateLimit"]
    errors = list(body.get("errors") or [])
    if fields:
        data = {**data, fields[0]: None}
        errors.append({**graphql_failure(request_id), "path": [fields[0]]})
    else:
        errors.append(graphql_failure(request_id))
    return {**body, "data": data, "errors": errors}
