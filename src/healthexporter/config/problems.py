"""Problems as people read them: ``projects.kube-rs.repositories[1] (line 7): "kube-rs" is not
owner/name``. The YAML node tree gives the line of every key; pydantic's error details give the
key path and the message, reworded to say what was expected and what was found."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from healthexporter.config.model import Config
from healthexporter.config.values import describe

KeyPath = tuple[str | int, ...]


def node_line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class LineIndex:
    """The line of every key (for mapping entries) and item (for list entries), by path."""

    def __init__(self, root: Node) -> None:
        self._lines: dict[KeyPath, int] = {(): node_line(root)}
        self._walk(root, (), set())

    def _walk(self, node: Node, path: KeyPath, active: set[int]) -> None:
        if id(node) in active:  # a recursive alias
            return
        active.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    child = (*path, str(key.value))
                    self._lines.setdefault(child, node_line(key))
                    self._walk(value, child, active)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                self._lines.setdefault(child, node_line(item))
                self._walk(item, child, active)
        active.discard(id(node))

    def find(self, path: KeyPath) -> int | None:
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


def at_key(path: KeyPath, message: str, lines: LineIndex) -> tuple[int, str]:
    line = lines.find(path)
    where = dotted(path) or "top level"
    if line is None:
        return (0, f"{where}: {message}")
    return (line, f"{where} (line {line}): {message}")


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dotted(path: KeyPath) -> str:
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


def pydantic_problem(detail: Any, lines: LineIndex) -> tuple[int, str]:
    loc: KeyPath = tuple(detail["loc"])
    kind: str = detail["type"]
    value = detail.get("input")
    if loc and loc[-1] == "[key]":  # a mapping key failed (a project name)
        loc = loc[:-1]
        if kind == "string_type":
            return at_key(loc, f"keys must be strings, got {describe(value)} (quote it)", lines)
    if kind == "extra_forbidden":
        return at_key(loc, _unknown_key(loc), lines)
    if kind == "missing":
        return at_key(loc, "missing required key", lines)
    message: str = detail["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind in _TYPE_MESSAGES:
        message = f"{_TYPE_MESSAGES[kind]}, got {describe(value)}"
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {describe(value)}"
    return at_key(loc, message, lines)


def _unknown_key(loc: KeyPath) -> str:
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


def _allowed_keys(loc: KeyPath) -> list[str]:
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
