"""The engine seam stays shut: services/ and the chat layer see engines only through ports.py
(and the chat layer through the engine-agnostic registry), never by name.

Read from the source files with ast (importing them would hide a leak made inside a function).
"""

from __future__ import annotations

import ast
from pathlib import Path

import meetbridge

PACKAGE = Path(meetbridge.__file__).parent
SERVICES = PACKAGE / "services"
CHAT = PACKAGE / "chat"
REGISTRY = "meetbridge.engines.registry"  # which engine a channel uses: no engine's own code
ENGINE_NAMES = frozenset(
    path.name for path in (PACKAGE / "engines").iterdir() if (path / "__init__.py").exists()
)


def engine_imports(source: str, module: str) -> list[str]:
    """The engine modules ``source`` (the module ``module``, dotted) imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return sorted({name for name in found if name.startswith("meetbridge.engines")})


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if node.level == 0:
        return node.module or ""
    parent = module.split(".")[: -node.level]  # a module's package is one level up
    return ".".join([*parent, *([node.module] if node.module else [])])


def engine_names_in(source: str) -> list[str]:
    """String literals that are an engine's name (a service choosing by engine)."""
    return sorted(
        {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and node.value in ENGINE_NAMES
        }
    )


def _service_modules() -> list[tuple[str, str]]:
    return [
        (f"meetbridge.services.{path.stem}", path.read_text(encoding="utf-8"))
        for path in sorted(SERVICES.rglob("*.py"))
    ]


def test_no_service_module_imports_an_engine() -> None:
    leaks = {
        module: imported
        for module, source in _service_modules()
        if (imported := engine_imports(source, module))
    }
    assert leaks == {}, "services/ must reach engines through ports.py only"


def test_no_service_module_names_an_engine() -> None:
    named = {
        module: names for module, source in _service_modules() if (names := engine_names_in(source))
    }
    assert named == {}, "services/ must ask an engine's capabilities, not test its name"


def _chat_modules() -> list[tuple[str, str]]:
    return [
        (
            "meetbridge." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts),
            path.read_text(encoding="utf-8"),
        )
        for path in sorted(CHAT.rglob("*.py"))
    ]


def test_the_chat_layer_imports_no_engine_but_the_registry() -> None:
    leaks = {
        module: [name for name in imported if name != REGISTRY and not name.startswith(REGISTRY)]
        for module, source in _chat_modules()
        if (imported := engine_imports(source, module))
    }
    assert {module: names for module, names in leaks.items() if names} == {}


def test_the_chat_layer_names_no_engine() -> None:
    named = {
        module: names for module, source in _chat_modules() if (names := engine_names_in(source))
    }
    assert named == {}, "chat/ must ask an engine's capabilities, not test its name"


def test_the_checks_see_every_way_of_importing_an_engine() -> None:
    module = "meetbridge.services.example"
    assert {"livekit", "pexip", "zoom"} <= ENGINE_NAMES
    assert engine_imports("import meetbridge.engines.zoom.api", module) == [
        "meetbridge.engines.zoom.api"
    ]
    assert "meetbridge.engines.zoom" in engine_imports("from ..engines import zoom", module)
    inside = "def f():\n    from meetbridge.engines.pexip.events import x\n"
    assert "meetbridge.engines.pexip.events" in engine_imports(inside, module)
    assert engine_imports("from meetbridge.ports import Capability", module) == []
    assert engine_imports("from . import notifications", module) == []
    assert engine_names_in('ENDS = {"livekit"}') == ["livekit"]
    assert engine_names_in('kind = "zoom.card"') == []
