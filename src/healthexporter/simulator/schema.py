"""GitHub's published GraphQL schema, loaded once, and queries checked against it as GitHub does.

The simulator validates every query against the real schema (the ``@octokit/graphql-schema``
npm package, installed by ``npm install``), so a query that works here cannot be rejected by
GitHub for naming a field or argument that does not exist. Parsing and validating a document is
cached per query text: the exporter sends the same ten documents over and over.

Errors are shaped like GitHub's (graphql-ruby's): a syntax error reads ``Parse error on "}"
(RCURLY) at [1, 10]``; a validation error carries ``extensions.code`` (``undefinedField``,
``missingRequiredArguments``, …) and ``locations``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    Lexer,
    Source,
    TokenKind,
    build_ast_schema,
    parse,
    specified_rules,
    validate,
)

SCHEMA_ENV = "HEALTHEXPORTER_GRAPHQL_SCHEMA"
SCHEMA_RELATIVE = Path("node_modules/@octokit/graphql-schema/schema.graphql")


class SchemaNotFoundError(RuntimeError):
    """GitHub's schema file is missing: the npm dependency has not been installed."""


def find_schema_file() -> Path:
    """``$HEALTHEXPORTER_GRAPHQL_SCHEMA``, else the first ``node_modules/@octokit/graphql-schema``
    found walking up from this package and from the working directory."""
    configured = os.environ.get(SCHEMA_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise SchemaNotFoundError(f"{SCHEMA_ENV}={configured} is not a file")
        return path
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for directory in (start, *start.parents):
            candidate = directory / SCHEMA_RELATIVE
            if candidate.is_file():
                return candidate
    raise SchemaNotFoundError(
        f"GitHub's GraphQL schema ({SCHEMA_RELATIVE}) was not found above {starts[0]} or "
        f"{starts[1]}: run `npm install` in the project directory, or set {SCHEMA_ENV}"
    )


def github_schema(path: Path | None = None) -> GraphQLSchema:
    """The schema GitHub publishes, built once per path (building takes about half a second)."""
    return _build_schema((path or find_schema_file()).resolve())


@functools.cache
def _build_schema(path: Path) -> GraphQLSchema:
    sdl = path.read_text(encoding="utf-8")
    # GitHub's SDL is not strictly valid: it defines a few fields twice
    # (EnterpriseOwnerInfo.repositoryDeployKeySetting…), which `build_schema` rejects.
    schema = build_ast_schema(parse(sdl, no_location=True), assume_valid_sdl=True)
    # `validate()` first asserts that the schema itself is valid, and GitHub's is not by the
    # letter of the spec: some types deprecate fields their interfaces do not (Project.id vs
    # Node.id). GitHub's own server accepts this, so we mark the schema as already checked.
    schema._validation_errors = []
    return schema


# --- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedQuery:
    """A parsed document and, if GitHub would refuse it, the errors (GitHub's JSON shape)."""

    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


def check_query(schema: GraphQLSchema, query: str) -> CheckedQuery:
    """Parse and validate ``query`` against ``schema``; cached per (schema, text)."""
    return _check_query(schema, query)


@functools.lru_cache(maxsize=512)
def _check_query(schema: GraphQLSchema, query: str) -> CheckedQuery:
    try:
        document = parse(Source(query, "GraphQL request"))
    except GraphQLSyntaxError as error:
        return CheckedQuery(None, (_syntax_error(error),))
    errors = validate(schema, document)
    if not errors:
        return CheckedQuery(document, ())
    return CheckedQuery(document, tuple(_validation_errors(schema, document, errors)))


# graphql-ruby's token names, which appear in GitHub's parse errors.
_TOKEN_NAMES = {
    TokenKind.BANG: "BANG",
    TokenKind.DOLLAR: "VAR_SIGN",
    TokenKind.AMP: "AMP",
    TokenKind.PAREN_L: "LPAREN",
    TokenKind.PAREN_R: "RPAREN",
    TokenKind.SPREAD: "ELLIPSIS",
    TokenKind.COLON: "COLON",
    TokenKind.EQUALS: "EQUALS",
    TokenKind.AT: "DIR_SIGN",
    TokenKind.BRACKET_L: "LBRACKET",
    TokenKind.BRACKET_R: "RBRACKET",
    TokenKind.BRACE_L: "LCURLY",
    TokenKind.BRACE_R: "RCURLY",
    TokenKind.PIPE: "PIPE",
    TokenKind.NAME: "IDENTIFIER",
    TokenKind.INT: "INT",
    TokenKind.FLOAT: "FLOAT",
    TokenKind.STRING: "STRING",
    TokenKind.BLOCK_STRING: "STRING",
}


def _syntax_error(error: GraphQLSyntaxError) -> dict[str, Any]:
    locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
    message = f"Parse error: {error.message.removeprefix('Syntax Error: ')}"
    if error.source is not None and error.positions:
        token = _token_at(error.source, next(iter(error.positions)))
        if token is not None:
            kind, text, line, column = token
            if kind is TokenKind.EOF:
                message = "Unexpected end of document"
            else:
                message = f'Parse error on "{text}" ({_TOKEN_NAMES[kind]}) at [{line}, {column}]'
    return {"message": message, "locations": locations}


def _token_at(source: Source, position: int) -> tuple[TokenKind, str, int, int] | None:
    lexer = Lexer(source)
    try:
        token = lexer.advance()
        while token.kind is not TokenKind.EOF and token.end <= position:
            token = lexer.advance()
    except GraphQLSyntaxError:
        return None
    if token.kind not in _TOKEN_NAMES and token.kind is not TokenKind.EOF:
        return None
    text = source.body[token.start : token.end]
    return token.kind, text, token.line, token.column


# graphql-ruby's error codes for the validation rules GitHub applies (graphql-core does not
# label its errors, so a failing document is re-validated rule by rule to find out which).
_RULE_CODES = {
    "ExecutableDefinitionsRule": "definitionNotExecutable",
    "KnownOperationTypesRule": "missingQueryConfiguration",
    "UniqueOperationNamesRule": "uniquelyNamedOperations",
    "LoneAnonymousOperationRule": "anonymousOperationWithOtherOperations",
    "KnownTypeNamesRule": "undefinedType",
    "FragmentsOnCompositeTypesRule": "fragmentOnNonCompositeType",
    "VariablesAreInputTypesRule": "variableRequiresValidType",
    "ScalarLeafsRule": "selectionMismatch",
    "FieldsOnCorrectTypeRule": "undefinedField",
    "UniqueFragmentNamesRule": "fragmentNotUnique",
    "KnownFragmentNamesRule": "undefinedFragment",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "PossibleFragmentSpreadsRule": "cannotSpreadFragment",
    "NoFragmentCyclesRule": "infiniteLoop",
    "UniqueVariableNamesRule": "variableNotUnique",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "NoUnusedVariablesRule": "variableNotUsed",
    "KnownDirectivesRule": "undefinedDirective",
    "UniqueDirectivesPerLocationRule": "directiveNotUniquePerLocation",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
    "UniqueInputFieldNamesRule": "inputFieldNotUnique",
}


def _validation_errors(
    schema: GraphQLSchema, document: DocumentNode, errors: Sequence[GraphQLError]
) -> list[dict[str, Any]]:
    codes: dict[tuple[str, tuple[tuple[int, int], ...]], str] = {}
    for rule in specified_rules:
        for error in validate(schema, document, [rule]):
            codes.setdefault(_error_key(error), _rule_code(rule))
    shaped = []
    for error in errors:
        message = error.message
        extensions: dict[str, Any] = {"code": codes.get(_error_key(error), "validationError")}
        unknown_field = _UNKNOWN_FIELD.match(message)
        if unknown_field is not None:  # the most common mistake, worded as GitHub words it
            field_name, type_name = unknown_field.groups()
            message = f"Field '{field_name}' doesn't exist on type '{type_name}'"
            extensions.update(typeName=type_name, fieldName=field_name)
        locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
        shaped.append({"message": message, "locations": locations, "extensions": extensions})
    return shaped


_UNKNOWN_FIELD = re.compile(r"Cannot query field '([^']+)' on type '([^']+)'\.")


def _error_key(error: GraphQLError) -> tuple[str, tuple[tuple[int, int], ...]]:
    return error.message, tuple((loc.line, loc.column) for loc in error.locations or [])


def _rule_code(rule: type[ASTValidationRule]) -> str:
    return _RULE_CODES.get(rule.__name__, rule.__name__.removesuffix("Rule"))
