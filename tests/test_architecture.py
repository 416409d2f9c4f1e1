"""The package's shape: no import circles, no private names imported across modules, modules of
a readable size. Read with the standard library's ``ast`` (nothing is imported or run)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_dyn"
MAX_LINES = 450  # "one job a module, at most ~400 lines"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every keras_dyn import in the file,
    function-level imports included."""
    out = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("keras_dyn"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, "", node.lineno) if sub in mods else (target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("keras_dyn")]
    return out


def _graph():
    mods = _modules()
    return mods, {m: _imports(m, p, mods) for m, p in mods.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    mods, imports = _graph()
    edges = {m: {t for t, _, _ in imps if t in mods and t != m} for m, imps in imports.items()}
    assert _cycles(edges) == [], "import circles (each list imports itself through the others)"


def test_the_cycle_finder_finds_a_planted_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_private_names_imported_across_modules():
    mods, imports = _graph()
    bad = [f"{mods[m].relative_to(PACKAGE.parent)}:{line}: from {target} import {name}"
           for m, imps in imports.items() for target, name, line in imps
           if name.startswith("_") and not name.startswith("__") and target != m]
    assert bad == [], "a name two modules need is public and lives where both can see it"


def test_modules_stay_readable():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them by job"


def test_config_package_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys, keras_dyn.config, keras_dyn.report.metrics, keras_dyn.report.sections; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(PACKAGE.parent))
    assert out.stdout.strip() == "[]"
