"""The packages' layers: imports only go downward, the packages form no cycle, and the
desk and the scheduler load no Flask.

core <- crawlers, nlp, indexes <- desk <- review_ui <- crisiswatch (the command line also
serves the UI); crawlers, nlp and indexes do not import one another.
"""

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# what each package may import, besides itself
MAY_IMPORT = {
    "core": set(),
    "crawlers": {"core"},
    "nlp": {"core"},
    "indexes": {"core"},
    "desk": {"core", "crawlers", "nlp", "indexes"},
    "review_ui": {"core", "crawlers", "nlp", "indexes", "desk"},
    "crisiswatch": {"core", "crawlers", "nlp", "indexes", "desk", "review_ui"},
}


def imported_packages(path: Path) -> set[str]:
    """The project's packages a module imports, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:  # a relative import stays in its package
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(MAY_IMPORT)


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the modules that import it."""
    graph = {package: {} for package in MAY_IMPORT}
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in imported_packages(path) - {package}:
                graph[package].setdefault(imported, []).append(str(path.relative_to(ROOT)))
    return graph


def test_no_package_imports_upward():
    upward = {f"{package} -> {imported}": modules
              for package, imports in package_graph().items()
              for imported, modules in imports.items() if imported not in MAY_IMPORT[package]}
    assert not upward


def test_the_packages_form_no_cycle():
    graph = package_graph()
    try:
        list(graphlib.TopologicalSorter({package: set(imports) for package, imports in graph.items()}).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"the packages import one another in a cycle: {' -> '.join(reversed(err.args[1]))}")


def test_the_scanner_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from . import x\ndef f():\n    import review_ui.auth\n    from flask import g\n")
    assert imported_packages(module) == {"review_ui"}


@pytest.mark.slow
def test_the_desk_and_the_scheduler_load_no_flask():
    """Every desk module and the scheduler, imported in a fresh interpreter."""
    code = (
        "import importlib, pkgutil, sys, desk, crisiswatch.schedule\n"
        "for module in pkgutil.iter_modules(desk.__path__):\n"
        "    importlib.import_module(f'desk.{module.name}')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('flask', 'review_ui')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
