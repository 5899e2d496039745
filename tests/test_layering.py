"""Three layers, one direction: handlers → services → repositories.

Domain and service code import no AWS SDK; handlers call services and never touch storage
or build DynamoDB expressions.
"""

from __future__ import annotations

import ast
import re
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
    # The settings module is a leaf (see test_settings_depend_on_nothing): the clock reads its offset there.
    outside = {
        name
        for name in _imports(path)
        if name.startswith("scrip.") and not name.startswith(("scrip.domain", "scrip.settings"))
    }
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


# Powertools reads its own POWERTOOLS_* variables; observability.py passes the same names on.
_READS_ITS_OWN_ENVIRONMENT = {LAYER / "settings.py", LAYER / "observability.py"}


def _environment_reads(path: Path) -> list[int]:
    """Lines that touch ``os.environ`` or ``os.getenv`` (however ``os`` or its names are imported)."""
    names = {"environ", "environb", "getenv", "putenv"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr in names) or (
            isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & names
        ):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", _modules(ROOT / "layers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_settings_module_reads_the_environment(path: Path) -> None:
    if path in _READS_ITS_OWN_ENVIRONMENT:
        return
    assert not _environment_reads(path), f"{path} reads the environment; use scrip.settings.current()"


def test_settings_depend_on_nothing() -> None:
    assert not {name for name in _imports(LAYER / "settings.py") if name.startswith("scrip")}


# ------------------------------------------------------------------ storage owns keys and items

_KEY_SEPARATOR_AFTER = re.compile(r"[A-Za-z0-9_}]")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _key_strings(path: Path) -> list[tuple[int, str]]:
    """Strings that spell a key: a ``#`` separating a value or a word from what follows it
    (``f"{org}#EVENT#{id}"``, ``"BALANCE#"``). Expression placeholders (``#version``) start
    their text or follow a space, so they are not keys."""
    tree = ast.parse(path.read_text())
    docstrings, inside_fstrings = _docstrings(tree), set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            before = ""
            for part in node.values:
                inside_fstrings.add(id(part))
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    text = before + part.value
                    if any(_KEY_SEPARATOR_AFTER.match(text[i - 1]) for i in range(1, len(text)) if text[i] == "#"):
                        found.append((node.lineno, ast.unparse(node)))
                        break
                    before = part.value[-1:]
                else:
                    before = "}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings | inside_fstrings
            and re.search(r"[A-Za-z0-9_]#", node.value)
        ):
            found.append((node.lineno, node.value))
    return found


def _mentions_item_keys(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in ("PK", "SK")]


@pytest.mark.parametrize(
    "path", _modules(LAYER / "domain") + _modules(LAYER / "services"), ids=lambda p: str(p.relative_to(LAYER))
)
def test_domain_and_services_never_touch_item_keys(path: Path) -> None:
    assert not _mentions_item_keys(path), f"{path} names PK/SK at lines {_mentions_item_keys(path)}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules(LAYER / "storage") if p.name != "keys.py"],
    ids=lambda p: str(p.relative_to(LAYER)),
)
def test_only_storage_keys_builds_key_strings(path: Path) -> None:
    assert not _key_strings(path), f"{path} builds keys outside storage/keys.py: {_key_strings(path)}"


def test_the_key_check_sees_keys_and_not_expression_placeholders(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docs may show ``BALANCE#<asset>``."""\n'
        'a = f"{org}#EVENT#{event_id}"\n'
        'b = "BALANCE#"\n'
        'c = f"{created}#{entity_id}"\n'
        'd = {"#window": "window"}\n'
        'e = f"#{name} = :{name}"\n'
        'f = "#version = :previous_version AND #s = :s"\n'
    )
    assert [line for line, _ in _key_strings(sample)] == [2, 4, 3]


def _storage_imports(path: Path) -> set[str]:
    found = set()
    for name in _imports(path):
        parts = name.split(".")
        if parts[:2] == ["scrip", "storage"] and len(parts) > 2 and (LAYER / "storage" / f"{parts[2]}.py").exists():
            found.add(parts[2])
    return found - {path.stem}


def test_storage_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: _storage_imports(path) for path in _modules(LAYER / "storage")}
    finished: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        if module in finished:
            return
        for imported in sorted(graph.get(module, set())):
            visit(imported, [*path, module])
        finished.add(module)

    for module in sorted(graph):
        visit(module, [])
