"""Imports go one way: netprobe's module graph (every import, at module top or inside a function) has
no cycle, neither between modules nor between folders, and no module imports a layer above its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "netprobe"

# Lower layers first; a module may import its own layer or any layer below it, never one above.
LAYERS = [
    ("base", ("errors", "args", "counts", "dtypes", "version", "budget", "spec", "registry", "families",
              "refs", "inputs", "bytesize")),  # descriptions parsed without torch
    ("analysis", ("analysis", "build", "unit_modules", "loaders", "models", "hub", "inputs_torch", "outputs")),  # counting: a spec or module in, counts out
    ("timing", ("timing",)),
    ("reports", ("reports",)),  # files and report rows; reads counting and timing
    ("cli", ("cli", "__main__")),
    ("face", ("__init__",)),  # the package face (netprobe/__init__.py): the Python API, above everything
]


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_of(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The netprobe module that ``import name`` (or ``from name import x``) loads."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> set[str]:
    """The netprobe modules ``module`` imports anywhere in its body (functions included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from netprobe.timing import bench` imports the submodule netprobe.timing.bench
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out |= {_resolve(n) for n in names if n == "netprobe" or n.startswith("netprobe.")}
    return out - {module}


GRAPH = {m: _imports(m) for m in MODULES}

# Left to do, and held here so that nothing else joins it: the budget generators (FAMILY@BUDGET,
# which the registry resolves) search on analytic MACs, so families.scaling reads analysis.cost.
KNOWN = {("netprobe.families.scaling", "netprobe.analysis.cost")}
CHECKED = {m: deps - {d for k, d in KNOWN if k == m} for m, deps in GRAPH.items()}


def _layer(module: str) -> int:
    if module == "netprobe":
        return len(LAYERS) - 1
    top = module.split(".")[1]
    return next((i for i, (_, tops) in enumerate(LAYERS) if top in tops), None)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path of nodes, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def _folder(module: str) -> str:
    """A sub-package (netprobe.timing) for the modules in it; a top-level module stands for itself."""
    return ".".join(module.split(".")[:2])


def test_every_module_is_in_a_layer():
    assert [m for m in MODULES if _layer(m) is None] == []


def test_the_graph_sees_imports_inside_functions():
    assert "netprobe.families" in GRAPH["netprobe.registry"]  # the registry reads the zoo inside _load()
    assert "netprobe.timing.bench" in GRAPH["netprobe.reports.compare"]  # `from netprobe.timing import bench`


def test_no_module_cycle():
    assert _cycle(GRAPH) is None


def test_no_folder_cycle():
    folders: dict[str, set[str]] = {}
    for m, deps in CHECKED.items():
        folders.setdefault(_folder(m), set()).update(_folder(d) for d in deps if _folder(d) != _folder(m))
    assert _cycle(folders) is None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_climbs_a_layer(module):
    above = sorted(d for d in CHECKED[module] if _layer(d) > _layer(module))
    assert not above, f"{module} ({LAYERS[_layer(module)][0]}) imports {above} from a layer above"


@pytest.mark.xfail(strict=True, reason="the budget generators still count with analysis.cost (see KNOWN)")
@pytest.mark.parametrize("module, dep", sorted(KNOWN))
def test_known_climb_is_gone(module, dep):
    assert dep not in GRAPH[module]


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
