"""GitHub's GraphQL rate-limit cost and query limits, computed from a document before it runs.

Rules from GitHub's "Rate limits and query limits for the GraphQL API":

* every connection needs ``first`` or ``last``, between 1 and 100;
* the *requests* of a call are, summed over its connections, the product of the ``first``/
  ``last`` of the connections that enclose it (each connection assumed full); the cost in points
  is requests / 100 rounded to the nearest whole number, at least 1;
* the *nodes* of a call are, summed over its connections, the product of the ``first``/``last``
  of the connection itself and all that enclose it; at most 500,000.

Worked example from the docs: ``repositories(first: 50) { … issues(first: 10) { … labels(first:
80) } }`` → 1 + 50 + 50·10 = 551 requests → 6 points; 50 + 500 + 40,000 = 40,550 nodes.

Like github.com in practice, a connection that selects neither ``nodes`` nor ``edges`` (only
``totalCount``/``pageInfo``) may omit ``first``/``last``; it still counts one request.
``first: 0`` is accepted, as GitHub does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)

MAX_PAGE = 100
MAX_NODES = 500_000


@dataclass(frozen=True)
class LimitError:
    """A query limit GitHub enforces before running a query; ``type`` is GitHub's error type."""

    type: str
    message: str
    path: tuple[str, ...]
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "path": list(self.path)}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column}]
        out["message"] = self.message
        return out


@dataclass(frozen=True)
class QueryCost:
    requests: int
    node_count: int
    errors: tuple[LimitError, ...] = ()

    @property
    def cost(self) -> int:
        """Points: requests / 100, rounded half up to a whole number, at least 1."""
        return max(1, math.floor(self.requests / 100 + 0.5))


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    requests: int = 0
    nodes: int = 0
    errors: list[LimitError] = field(default_factory=list)
    node_limit_reported: bool = False


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> QueryCost:
    """Cost and limit errors of a *validated* operation; ``variables`` already coerced."""
    root = schema.get_root_type(operation.operation)
    if root is None:  # validation has rejected this already
        return QueryCost(0, 0)
    walk = _Walk(schema, fragments, variables)
    _visit(walk, root, operation.selection_set, 1, ())
    return QueryCost(walk.requests, walk.nodes, tuple(walk.errors))


def _visit(
    walk: _Walk,
    parent: GraphQLObjectType | GraphQLInterfaceType | Any,
    selection_set: SelectionSetNode,
    multiplier: int,
    path: tuple[str, ...],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            _visit_field(walk, parent, selection, multiplier, path)
        elif isinstance(selection, InlineFragmentNode):
            condition = (
                walk.schema.get_type(selection.type_condition.name.value)
                if selection.type_condition
                else parent
            )
            _visit(walk, condition, selection.selection_set, multiplier, path)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments.get(selection.name.value)
            if fragment is not None:
                condition = walk.schema.get_type(fragment.type_condition.name.value)
                _visit(walk, condition, fragment.selection_set, multiplier, path)


def _visit_field(
    walk: _Walk, parent: Any, node: FieldNode, multiplier: int, path: tuple[str, ...]
) -> None:
    name = node.name.value
    fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
    field_def = fields.get(name)
    if field_def is None or node.selection_set is None:
        return  # scalars, __typename and introspection
    here = (*path, node.alias.value if node.alias else name)
    child_multiplier = multiplier
    if _is_connection(field_def):
        walk.requests += multiplier
        page = _page_size(walk, field_def, node, here)
        if page is None:
            if _selects_items(walk, node.selection_set):
                walk.errors.append(
                    _error(
                        "MISSING_PAGINATION_BOUNDARIES",
                        f"You must provide a `first` or `last` value to properly paginate "
                        f"the `{name}` connection.",
                        here,
                        node,
                    )
                )
            page = 0
        child_multiplier = multiplier * page
        walk.nodes += child_multiplier
        if walk.nodes > MAX_NODES and not walk.node_limit_reported:
            walk.node_limit_reported = True
            walk.errors.append(
                _error(
                    "MAX_NODE_LIMIT_EXCEEDED",
                    f"By the time this query traverses to the {name} connection, it is "
                    f"requesting up to {walk.nodes:,} possible nodes which exceeds the maximum "
                    f"limit of {MAX_NODES:,}.",
                    here,
                    node,
                )
            )
    _visit(walk, get_named_type(field_def.type), node.selection_set, child_multiplier, here)


def _is_connection(field_def: GraphQLField) -> bool:
    named = get_named_type(field_def.type)
    return named.name.endswith("Connection") and (
        "first" in field_def.args or "last" in field_def.args
    )


def _page_size(
    walk: _Walk, field_def: GraphQLField, node: FieldNode, path: tuple[str, ...]
) -> int | None:
    sizes = []
    for argument in ("first", "last"):
        value = argument_value(node, argument, walk.variables)
        if value is None:
            continue
        if value > MAX_PAGE:
            walk.errors.append(
                _error(
                    "EXCESSIVE_PAGINATION",
                    f"Requesting {value} records on the `{node.name.value}` connection exceeds "
                    f"the `{argument}` limit of {MAX_PAGE} records.",
                    path,
                    node,
                )
            )
            value = MAX_PAGE
        elif value < 0:
            walk.errors.append(
                _error(
                    "EXCESSIVE_PAGINATION",
                    f"`{argument}` on the `{node.name.value}` connection cannot be less than zero.",
                    path,
                    node,
                )
            )
            value = 0
        sizes.append(int(value))
    return max(sizes) if sizes else None


def argument_value(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    """The value of a scalar argument (literal or variable) of a validated field; None if absent.

    Only the scalars the limits need (Int, Boolean) are read: kept independent of graphql-core's
    argument-coercion API, which changed between 3.2 and 3.3.
    """
    for argument in node.arguments or ():
        if argument.name.value == name:
            return _literal(argument.value, variables)
    return None


def _literal(value: ValueNode, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, VariableNode):
        return variables.get(value.name.value)
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, BooleanValueNode):
        return value.value
    return None


def _selects_items(walk: _Walk, selection_set: SelectionSetNode) -> bool:
    """Whether a connection's selection asks for ``nodes`` or ``edges`` (through fragments too)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in ("nodes", "edges"):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects_items(walk, selection.selection_set):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments.get(selection.name.value)
            if fragment is not None and _selects_items(walk, fragment.selection_set):
                return True
    return False


def _error(kind: str, message: str, path: tuple[str, ...], node: FieldNode) -> LimitError:
    line = column = None
    if node.loc is not None:
        location = node.loc.source.get_location(node.loc.start)
        line, column = location.line, location.column
    return LimitError(kind, message, path, line, column)
