"""The package's shape, checked from its source: no import cycles, every layer imports only the
layers below it (ARCHITECTURE.md, "Dependency direction"), and no database session is opened
inside an `async def` (that work belongs to the store layer, off the event loop)."""

from __future__ import annotations

import ast

from .import_graph import PACKAGE, find_cycle, import_graph, module_name

# Lower number = lower layer. A module may import its own layer and the layers below.
LAYERS: dict[str, int] = {
    "omniroute.translate": 0,
    "omniroute.config": 1,
    "omniroute.files": 1,
    "omniroute.addresses": 1,
    "omniroute.runfile": 1,
    "omniroute.private_home": 1,
    "omniroute.memory": 1,
    "omniroute.message_check": 1,
    "omniroute.db": 1,
    "omniroute.providers": 1,
    "omniroute.engine": 2,
    "omniroute.shared": 3,
    "omniroute.inspector": 3,
    "omniroute.bridge": 3,
    "omniroute.listeners": 3,
    "omniroute.services": 4,
    "omniroute.api": 5,
    "omniroute.clitools": 5,  # the settings writers behind /api/cli-tools
    "omniroute.configfile": 5,  # the config file: validated with the API's own models
    "omniroute.runtime": 6,
    "omniroute.exposure": 6,  # start-up checks of the settings, run by the CLI and the addon
    "omniroute.cli": 7,
    "omniroute.cli_bridge": 7,
    "omniroute.cli_inspector": 7,
    "omniroute.cli_connect": 7,
    "omniroute.cli_config": 7,
    "omniroute.cli_common": 7,
    "omniroute.cli_groups": 7,
    "omniroute.cli_agents": 7,
    "omniroute.cli_agents_app": 7,
    "omniroute.cli_server": 7,
    "omniroute.addons": 7,  # the mitmproxy addons: on top, beside the CLI
}
# The package's own `__init__` (the version string) is below everything.
ROOT = "omniroute"


def layer_of(module: str) -> int | None:
    if module == ROOT:
        return -1
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None  # mocks and the benchmark harness: outside the product's layering


def test_the_package_has_no_import_cycle() -> None:
    # Imports for type annotations only never run, so they cannot make a cycle; the layering
    # below still counts them.
    assert find_cycle(import_graph(type_checking=False)) is None


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(module) is not None
        and layer_of(target) is not None
        and layer_of(target) > layer_of(module)  # type: ignore[operator]
    ]
    assert upward == []


def test_translate_imports_nothing_else_of_ours() -> None:
    outside = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("omniroute.translate")
        for target in targets
        if not target.startswith("omniroute.translate")
    }
    assert outside == set()


def test_every_product_module_has_a_layer() -> None:
    unplaced = [m for m in import_graph() if layer_of(m) is None and not m.startswith(
        ("omniroute.testing", "omniroute.bench"))]
    assert unplaced == []


def test_no_database_session_inside_an_async_function() -> None:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(fn, ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.With | ast.AsyncWith):
                    for item in node.items:
                        call = item.context_expr
                        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                                and call.func.attr == "session"):
                            found.append(f"{module_name(path)}:{node.lineno} in {fn.name}")
    assert found == []
