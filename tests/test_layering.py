"""Three layers, one direction: handlers → services → repositories.

Domain and service code import no AWS SDK; handlers call services and never touch storage
or build DynamoDB expressions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "scrip" / "scrip"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize(
    "path", _modules(LAYER / "domain") + _modules(LAYER / "services"), ids=lambda p: str(p.relative_to(LAYER))
)
def test_domain_and_services_never_import_the_aws_sdk(path: Path) -> None:
    forbidden = {name for name in _imports(path) if name.split(".")[0] in ("boto3", "botocore")}
    assert not forbidden, f"{path} imports {forbidden}"


@pytest.mark.parametrize("path", _modules(LAYER / "domain"), ids=lambda p: str(p.relative_to(LAYER)))
def test_domain_depends_on_nothing_but_itself(path: Path) -> None:
    outside = {name for name in _imports(path) if name.startswith("scrip.") and not name.startswith("scrip.domain")}
    assert not outside, f"{path} imports {outside}"


@pytest.mark.parametrize("path", _modules(ROOT / "functions"), ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_use_services_not_storage(path: Path) -> None:
    imports = _imports(path)
    assert not {n for n in imports if n.startswith(("scrip.storage", "boto3", "botocore"))}
    source = path.read_text()
    for expression_word in ("KeyConditionExpression", "ConditionExpression", "UpdateExpression", "Attr(", "Key("):
        assert expression_word not in source


@pytest.mark.parametrize("path", _modules(LAYER / "storage"), ids=lambda p: str(p.relative_to(LAYER)))
def test_storage_never_reaches_up(path: Path) -> None:
    upward = {n for n in _imports(path) if n.startswith(("scrip.services", "scrip.api"))}
    assert not upward
