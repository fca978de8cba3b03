"""hpsearch's layers hold: a module imports only from its own layer or a lower one, and no
imports close a circle. Imports are read from the source (top level and inside functions), so
an import hidden in a function cannot sneak a dependency past the rule."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "hpsearch"

#: hpsearch's layers, lowest first (ARCHITECTURE.md, "Layers"). A unit is a top-level module or a
#: subpackage; everything below ``hpsearch/<unit>`` belongs to it.
LAYERS = [
    {"errors", "checks", "seeding", "records", "objectives"},
    {"distributions"},
    {"space"},
    {"samplers"},
    {"diagnostics"},
    {"storage"},
    {"strategies"},
    {"results"},
    {"execution"},
    {"study"},
    {"studyfile", "sklearn"},
    {"compare", "integration", "plots"},
    {"cli", "__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def module_name(relpath):
    parts = Path(relpath).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_sources():
    """``{module name: (path relative to the repository, source text)}`` for every hpsearch module."""
    return {module_name(p.relative_to(PACKAGE.parent)): (p.relative_to(PACKAGE.parent).as_posix(), p.read_text())
            for p in PACKAGE.rglob("*.py")}


def unit_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imported_modules(name, relpath, source, modules):
    """The hpsearch modules a module imports, as ``(module, line)``; ``from hpsearch.x import y``
    counts as importing ``hpsearch.x.y`` when that is a module."""
    package = name if relpath.endswith("__init__.py") else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, relpath)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in modules else target, node.lineno))
    return [(m, line) for m, line in found if m == "hpsearch" or m.startswith("hpsearch.")]


def upward_imports(sources):
    """One line per import that goes up a layer, naming both files."""
    problems = []
    for module, (relpath, source) in sorted(sources.items()):
        unit = unit_of(module)
        for target, line in imported_modules(module, relpath, source, sources):
            other = unit_of(target)
            if unit is None or other is None or other == unit:
                continue  # hpsearch/__init__ re-exports lazily from every layer; a unit's own modules
            if RANK[other] > RANK[unit]:
                target_file = sources[target][0] if target in sources else target
                problems.append(f"{relpath}:{line} ({unit}, layer {RANK[unit]}) imports {target_file} "
                                f"({other}, layer {RANK[other]}): an import up a layer")
    return problems


def import_cycles(sources):
    """Every circle of imports between hpsearch modules, as lists of module names."""
    graph = {m: sorted({t for t, _ in imported_modules(m, path, src, sources) if t in sources and t not in (m, "hpsearch")})
             for m, (path, src) in sources.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return cycles


def test_every_unit_has_a_layer():
    units = {unit_of(m) for m in read_sources()} - {None}
    assert units <= set(RANK), f"give these a layer in LAYERS and ARCHITECTURE.md: {sorted(units - set(RANK))}"


def test_no_module_imports_up_a_layer():
    problems = upward_imports(read_sources())
    assert not problems, "\n".join(problems)


def test_no_import_closes_a_circle():
    sources = read_sources()
    cycles = import_cycles(sources)
    assert not cycles, "\n".join(" -> ".join(sources[m][0] for m in cycle) for cycle in cycles)


def test_the_layer_test_names_both_files_of_an_upward_import():
    sources = read_sources()
    sources["hpsearch.storage.planted"] = ("hpsearch/storage/planted.py",
                                          "def f():\n    from hpsearch.cli.output import one_line\n")
    assert [p for p in upward_imports(sources) if "planted" in p] == ["hpsearch/storage/planted.py:2 (storage, layer 5) imports "
                                       "hpsearch/cli/output.py (cli, layer 12): an import up a layer"]


def test_the_layer_test_finds_a_circle():
    sources = read_sources()
    sources["hpsearch.records_a"] = ("hpsearch/records_a.py", "def f():\n    from hpsearch.records_b import g\n")
    sources["hpsearch.records_b"] = ("hpsearch/records_b.py", "from hpsearch.records_a import f\n")
    assert ["hpsearch.records_a", "hpsearch.records_b", "hpsearch.records_a"] in import_cycles(sources)
