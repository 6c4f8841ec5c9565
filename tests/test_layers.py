"""The import contract: the inner layers know nothing of HTTP or of the composition root.

``api → uploads → (storage, db, media)``: every module under ``uploads/``, ``db/``,
``storage/`` and ``media/`` is read as source (its AST, imports inside functions and
``TYPE_CHECKING`` blocks included) and must not import FastAPI, Starlette,
``chunkup.api`` or ``chunkup.services``. The composition root (``services.py``)
and the other modules beside ``api/`` (``webhooks/``, settings, auth, models,
errors) must not import the HTTP layer either: ``api`` builds on them, not the
other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "chunkup"
INNER = ("uploads", "db", "storage", "media")
FORBIDDEN = ("fastapi", "starlette", "chunkup.api", "chunkup.services")
BESIDE_API = ("services.py", "webhooks", "settings.py", "auth.py", "models.py", "errors.py")
HTTP = ("fastapi", "starlette", "chunkup.api")


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module an import statement names (``from chunkup import api``: chunkup.api)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden(module: str, names: tuple[str, ...] = FORBIDDEN) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in names)


def violations(layers: tuple[str, ...], names: tuple[str, ...]) -> set[tuple[str, str]]:
    found = set()
    for layer in layers:
        paths = [SRC / layer] if layer.endswith(".py") else sorted((SRC / layer).rglob("*.py"))
        for path in paths:
            tree = ast.parse(path.read_text(), filename=str(path))
            where = path.relative_to(SRC).as_posix()
            for module in imported_modules(tree):
                if forbidden(module, names):
                    found.add((where, _top(module)))
    return found


def _top(module: str) -> str:
    """``chunkup.api.idle.pieces_within`` (a name imported from a module) → the module."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        candidate = SRC.parent.joinpath(*parts[:length])
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts[:length])
    return module


def test_inner_layers_import_no_http_framework_api_or_services():
    assert violations(INNER, FORBIDDEN) == set()


def test_the_composition_root_and_its_neighbours_import_no_http_layer():
    assert violations(BESIDE_API, HTTP) == set()


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import fastapi", {"fastapi"}),
        ("from starlette.requests import Request", {"starlette.requests"}),
        ("from chunkup import services", {"chunkup.services"}),
        ("from chunkup.api.idle import pieces_within", {"chunkup.api.idle.pieces_within"}),
        ("def f():\n    import chunkup.api.app", {"chunkup.api.app"}),
        ("if TYPE_CHECKING:\n    from fastapi import Request", {"fastapi.Request"}),
    ],
)
def test_the_check_sees_every_form_of_import(source: str, caught: set[str]):
    assert {m for m in imported_modules(ast.parse(source)) if forbidden(m)} >= caught
