"""Loading: YAML → node tree (lines, duplicate keys) → data → pydantic → problems with lines.

Why both PyYAML's node tree and pydantic: pydantic reports every shape and type problem at once,
and the composed node tree (which ``yaml.safe_load`` throws away) knows the line of every key.
The node tree also catches what PyYAML accepts silently: a key written twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from healthexporter.config.crosschecks import cross_checks
from healthexporter.config.model import Config
from healthexporter.config.problems import (
    KeyPath,
    LineIndex,
    dotted,
    node_line,
    pydantic_problem,
)
from healthexporter.config.values import quote
from healthexporter.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; relative paths in it are relative to its
    directory. Raises ``ConfigError`` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the configuration: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text ({error.reason})"]) from None
    return parse_config(text, str(path), base_dir=path.parent.absolute())


def parse_config(text: str, source: str = "<string>", *, base_dir: Path | None = None) -> Config:
    """Validate configuration text. ``base_dir`` anchors relative paths (default: the working
    directory). Raises ``ConfigError`` listing every problem, in file order."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        problems = _duplicate_keys(root) if root is not None else []
        if root is None:
            raise ConfigError([f"{source}: the configuration is empty (projects are required)"])
        if not isinstance(root, MappingNode):
            raise ConfigError(
                [
                    f"top level (line {node_line(root)}): expected a mapping of settings, "
                    f"got {_node_kind(root)}"
                ]
            )
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_yaml_problem(error, source)]) from None
    except yaml.YAMLError as error:  # pragma: no cover - PyYAML marks its errors
        raise ConfigError([f"{source}: YAML error: {error}"]) from None
    finally:
        loader.dispose()

    lines = LineIndex(root)
    config: Config | None = None
    context = {"base_dir": base_dir if base_dir is not None else Path.cwd()}
    cross_messages: set[str] = set()
    problems += cross_checks(data, lines, cross_messages)
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as error:
        problems += [
            pydantic_problem(detail, lines)
            for detail in error.errors()
            if str(detail["msg"]).removeprefix("Value error, ") not in cross_messages
        ]
    if problems or config is None:
        ordered = sorted(problems, key=lambda problem: problem[0])  # stable: file order
        raise ConfigError(list(dict.fromkeys(message for _, message in ordered)))
    return config


def _yaml_problem(error: yaml.MarkedYAMLError, source: str) -> str:
    mark = error.problem_mark or error.context_mark
    what = error.problem or error.context or "invalid YAML"
    if error.context and error.problem and error.problem.startswith("but "):
        what = f"{error.context}, {error.problem}"  # "expected a single document…, but found…"
    elif (
        error.context
        and error.context_mark
        and error.problem_mark
        and error.context_mark.line != error.problem_mark.line
    ):
        what += f" ({error.context} at line {error.context_mark.line + 1})"  # the open bracket
    if mark is None:  # pragma: no cover
        return f"{source}: YAML syntax error: {what}"
    return f"{source} (line {mark.line + 1}, column {mark.column + 1}): YAML syntax error: {what}"


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return f"the scalar {quote(str(node.value))}"


def _walk_mappings(
    node: Node, path: KeyPath, seen: set[int]
) -> Iterator[tuple[MappingNode, KeyPath]]:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        yield node, path
        for key, value in node.value:
            label: str | int = str(key.value) if isinstance(key, ScalarNode) else "?"
            yield from _walk_mappings(value, (*path, label), seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk_mappings(item, (*path, index), seen)


def _duplicate_keys(root: Node) -> list[tuple[int, str]]:
    """Keys written twice in one mapping. PyYAML keeps the last one silently; a forgotten
    earlier entry is almost always a mistake."""
    problems = []
    for mapping, path in _walk_mappings(root, (), set()):
        first: dict[tuple[str, str], int] = {}
        for key, _ in mapping.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            ident = (key.tag, key.value)
            if ident in first:
                line = node_line(key)
                problems.append(
                    (
                        line,
                        f"{dotted((*path, key.value))} (line {line}): duplicate key "
                        f"(first at line {first[ident]})",
                    )
                )
            else:
                first[ident] = node_line(key)
    return problems
