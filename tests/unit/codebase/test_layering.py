"""The package's layers keep to themselves: no module reaches for another module's private names,
the analyzer never imports the CLI, the stack never imports alerting, and each SQL table is created
by one module. Read with `ast`, so the check costs milliseconds and names the line that breaks it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import agent_otel

ROOT = Path(agent_otel.__file__).parent


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, ast.Module]) -> list[tuple[str, int, str, list[str]]]:
    """(importer, line, imported module, names imported from it) for every import in the package."""
    found = []
    for name, tree in modules.items():
        is_package = (ROOT / Path(*name.split(".")[1:]) / "__init__.py").exists()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found.append((name, node.lineno, _resolve(name, node, is_package), [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((name, node.lineno, a.name, []) for a in node.names)
    return found


def test_no_module_imports_or_reads_another_modules_private_names() -> None:
    modules = _modules()
    problems = []
    for importer, line, target, names in _imports(modules):
        if target.startswith("agent_otel") and target != importer:
            # `_instruments` in an instrumentation's package.py is the contrib packages' convention
            problems += [f"{importer}:{line} imports {target}.{n}" for n in names if _private(n) and not (n == "_instruments" and target.endswith(".package"))]
    for name, tree in modules.items():
        aliases = {}  # local name -> agent_otel module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name): a.name for a in node.names if a.name.startswith("agent_otel")})
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node, False) if node.level else node.module or ""
                for a in node.names:
                    full = f"{target}.{a.name}"
                    if full in modules:
                        aliases[a.asname or a.name] = full
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                dotted = []
                while isinstance(base, ast.Attribute):
                    dotted.insert(0, base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id in aliases:
                    target = ".".join([aliases[base.id], *dotted])
                    if target != name:
                        problems.append(f"{name}:{node.lineno} reads {target}.{node.attr}")
    assert problems == []


def test_layers_point_one_way() -> None:
    forbidden = {
        "agent_otel.analyzer": ("agent_otel.cli",),
        "agent_otel.stack": ("agent_otel.alerts", "agent_otel.cli"),
        "agent_otel.alerts": ("agent_otel.cli",),
        "agent_otel.analyzer.sources.loki": ("agent_otel.analyzer.sources.local",),
        "agent_otel": ("tests", "bench"),
    }
    problems = []
    for importer, line, target, _names in _imports(_modules()):
        for layer, banned in forbidden.items():
            if importer == layer or importer.startswith(layer + "."):
                problems += [f"{importer}:{line} imports {target}" for b in banned if target == b or target.startswith(b + ".")]
    assert problems == []


def test_bench_does_not_import_the_tests() -> None:
    bench = ROOT.parent.parent / "bench"
    offenders = [str(p) for p in bench.rglob("*.py") if re.search(r"^\s*(from|import)\s+tests\b", p.read_text(), re.M)]
    assert offenders == []


def test_each_sql_table_is_created_by_one_module() -> None:
    owners: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        for table in re.findall(r"CREATE TABLE(?: IF NOT EXISTS)?\s+(\w+)", path.read_text(), re.I):
            owners.setdefault(table, set()).add(str(path.relative_to(ROOT)))
    assert owners and {t: o for t, o in owners.items() if len(o) > 1} == {}


def test_tables_are_only_queried_by_their_owner() -> None:
    owners: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        for table in re.findall(r"CREATE TABLE(?: IF NOT EXISTS)?\s+(\w+)", path.read_text(), re.I):
            owners[table] = str(path.relative_to(ROOT))
    # The local store's data tables are its published format: the analyzer's local source reads them.
    readers = {t: {"analyzer/sources/local.py"} for t in ("spans", "span_events", "logs", "metric_points", "conversation_traces")}
    # Its per-minute summaries (localstore/summaries.py) are read by the summaries reader, which also
    # reads the spans not summarised yet; the summariser reads the spans it summarises.
    readers["spans"] |= {"analyzer/sources/summaries.py", "localstore/summaries.py"}
    readers.update({t: {"analyzer/sources/summaries.py"} for t in ("span_summaries", "summary_coverage")})
    # The hour and 10-minute block rows (localstore/block_summaries.py) are merged from the minute rows.
    readers["span_summaries"].add("localstore/block_summaries.py")
    problems = []
    for path in ROOT.rglob("*.py"):
        text, rel = path.read_text(), str(path.relative_to(ROOT))
        for table, owner in owners.items():
            if rel == owner or rel in readers.get(table, ()):
                continue
            if re.search(rf"\b(FROM|INTO|UPDATE|JOIN)\s+{table}\b", text):
                problems.append(f"{rel} queries {table} (owned by {owner})")
    assert problems == []


def test_readme_layout_names_every_module_and_package() -> None:
    readme = (ROOT.parent.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    names = [p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())]
    names += [p.stem for p in (ROOT / "analyzer").glob("*.py") if p.name != "__init__.py"]
    missing = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", layout)]
    assert missing == []


def test_the_analyzer_prints_only_in_its_renderers() -> None:
    """Console code (rich) in the analyzer lives in render/; progress reaches the CLI through callbacks."""
    offenders = [f"{importer}:{line}" for importer, line, target, _ in _imports(_modules())
                 if importer.startswith("agent_otel.analyzer") and not importer.startswith("agent_otel.analyzer.render")
                 and target.split(".")[0] == "rich"]
    assert offenders == []
