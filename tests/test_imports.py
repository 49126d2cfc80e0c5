"""The library's import structure: no import circle, and each layer pulls in only what it needs.

The first tests read every module of ``src/`` as text (function-level imports included, since
a lazy import closes a circle as surely as a top-level one) and look for groups of modules
that reach each other; a circle fails with the imports that close it. The others import one
layer in a fresh interpreter and check what came with it: config checks read figure names
without matplotlib, and ``energy`` stands on NumPy alone.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workflow_utils import REPO

SRC = REPO / "src"
PACKAGE = "stochastic_attention"


def _modules(src: Path = SRC) -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, is a package ``__init__``) for every module of the package."""
    modules = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name ``from <node.module> import …`` refers to, inside ``module``."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its file (functions too)."""
    modules = _modules(src)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, name, is_package)
                # ``from . import x`` imports the module ``x``; ``from .m import f`` the module m
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_the_import_graph_finds_imports_inside_functions():
    """The checker itself: a lazy relative import is an edge (else the next test is blind)."""
    graph = import_graph()
    assert f"{PACKAGE}.report.figure_registry" in graph[f"{PACKAGE}.config"]  # in a function
    assert f"{PACKAGE}.errors" in graph[f"{PACKAGE}.claims"]  # ``from .errors import …``


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other (strongly connected), sorted."""
    reach = {name: _reachable(graph, name) for name in graph}
    groups = {
        frozenset({name} | {m for m in reach[name] if name in reach[m]})
        for name in graph
        if name in reach[name]
    }
    return sorted(sorted(group) for group in groups)


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(graph) == [["a", "b", "c"], ["e"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_src():
    graph = import_graph()
    found = circles(graph)
    edges = [f"  {m} → {', '.join(sorted(graph[m] & set(g)))}" for g in found for m in g]
    assert not found, "modules that import each other:\n" + "\n".join(edges)



def _in_package(module: str, package: str) -> bool:
    return module == f"{PACKAGE}.{package}" or module.startswith(f"{PACKAGE}.{package}.")


def test_baselines_do_not_import_methods():
    """Imports flow one way: ``methods`` (the plug-in API and every method kind) uses
    ``baselines`` (the models: VAE, DDPM, GMM-PCA, GARCH …), never the reverse, not even
    through another module: a model knows nothing of the registry or of ``MethodSamples``."""
    graph = import_graph()
    back = {
        module: sorted(m for m in _reachable(graph, module) if _in_package(m, "methods"))
        for module in graph
        if _in_package(module, "baselines")
    }
    found = [f"  {module} → {', '.join(methods)}" for module, methods in back.items() if methods]
    assert not found, "baselines modules that reach methods:\n" + "\n".join(found)

def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter on this checkout; it sets ``result`` (JSON)."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(SRC)!r})
        {textwrap.indent(textwrap.dedent(code), "        ").strip()}
        loaded = sorted(sys.modules)
        print(json.dumps({{"modules": loaded, "result": locals().get("result")}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _tops(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(
    ("module", "allowed"),
    [("_array_api", set()), ("energy", {"_array_api"}), ("errors", set())],
)
def test_a_bottom_layer_imports_nothing_else_of_the_package(module, allowed):
    """``energy`` stands on NumPy and the array-namespace helper alone."""
    loaded = _fresh(f"import {PACKAGE}.{module}")["modules"]
    ours = {m.removeprefix(f"{PACKAGE}.") for m in loaded if m.startswith(f"{PACKAGE}.")}
    assert ours == {module} | allowed
    assert not _tops(loaded) & {"scipy", "pandas", "matplotlib", "torch"}


def test_figure_names_come_without_a_plotting_library():
    run = _fresh(
        f"""
        from {PACKAGE}.report.figure_registry import captions, figure_names
        result = figure_names()
        assert set(captions()) == set(result)
        """
    )
    assert {"sample_grids", "sweep", "spectrum", "tail_survival"} <= set(run["result"])
    assert not _tops(run["modules"]) & {"matplotlib", "pandas", "torch", "scipy"}


def test_config_checks_of_the_smoke_config_import_no_matplotlib():
    """The Snakefile's ``prepare`` on the smoke config (it has figures): no plotting library."""
    run = _fresh(
        f"""
        import yaml
        from {PACKAGE}.config import prepare
        config = yaml.safe_load(open("config/smoke.yaml"))
        prepare(config, ["config/smoke.yaml"], "workflow/schemas/config.schema.yaml")
        result = sorted({{f for e in config["experiments"].values() for f in e.get("figures", [])}})
        """
    )
    assert run["result"], "the smoke config names figures, so the figure check ran"
    assert "matplotlib" not in _tops(run["modules"])
    assert f"{PACKAGE}.report.experiment_figures" in run["modules"]  # names came from there


def test_config_checks_and_the_plan_import_no_torch_and_no_matplotlib():
    """Checking a config and expanding its plan (what the Snakefile does before any job)
    loads neither torch nor matplotlib: the learned baselines' parameter classes, which the
    checks use on ``train`` blocks, live in the torch-free ``baselines.params``."""
    run = _fresh(
        f"""
        import yaml
        import {PACKAGE}.config, {PACKAGE}.plan
        bare = sorted(sys.modules)
        from {PACKAGE}.config import prepare
        from {PACKAGE}.plan import build_plan
        config = yaml.safe_load(open("config/smoke.yaml"))
        prepare(config, ["config/smoke.yaml"], "workflow/schemas/config.schema.yaml")
        plan = build_plan(config)
        plan.targets()
        result = {{"bare": bare, "kinds": sorted({{m["kind"] for m in plan.methods.values()}})}}
        """
    )
    assert {"vae", "ddpm", "gmm_pca"} <= set(run["result"]["kinds"]), "train blocks were checked"
    assert not _tops(run["result"]["bare"]) & {"torch", "matplotlib"}
    assert not _tops(run["modules"]) & {"torch", "matplotlib"}
