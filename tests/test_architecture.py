"""The direction of imports is a design decision (STYLE.md); this keeps it so.

- health/ (the maths) imports only the domain model and the standard library;
- only the GitHub layer (and the simulator, which plays GitHub) imports httpx or PyGithub;
- only the simulator imports graphql-core, which is a test/simulator dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "healthexporter"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(folder: str = "") -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


@pytest.mark.parametrize("path", modules("health"), ids=lambda p: p.name)
def test_health_imports_only_the_model_and_the_standard_library(path: Path) -> None:
    for name in imports_of(path):
        allowed = name in sys.stdlib_module_names or top(name) in sys.stdlib_module_names
        allowed = (
            allowed or name == "healthexporter.model" or name.startswith("healthexporter.health")
        )
        assert allowed, f"{path.name} imports {name}"


def test_only_the_github_layer_talks_http() -> None:
    for path in modules():
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(("github/", "simulator/")):
            continue
        tops = {top(n) for n in imports_of(path)}
        assert not tops & {"httpx", "github", "jwt"}, f"{relative} imports an HTTP/GitHub library"


def test_graphql_core_stays_in_the_simulator() -> None:
    for path in modules():
        relative = path.relative_to(SRC).as_posix()
        if not relative.startswith("simulator/"):
            assert "graphql" not in {top(n) for n in imports_of(path)}, relative


def test_the_exporter_never_imports_the_simulator() -> None:
    for path in modules():
        relative = path.relative_to(SRC).as_posix()
        if not relative.startswith("simulator/"):
            assert not any(n.startswith("healthexporter.simulator") for n in imports_of(path)), (
                relative
            )
