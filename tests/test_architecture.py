"""The import rules and size limit of ARCHITECTURE.md, checked on the source with ``ast`` (nothing is imported).

The rules are data at the top of this file; change them together with ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "offlineimap_phantomfix"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

# --- the rules (module names relative to the package) ---------------------------------------------------

#: Pure modules: logic on values, no I/O. They may import each other and the standard library only.
PURE = {"errors", "verdicts", "sanitize", "responses", "placeholder", "options", "report", "report_short", "recovery",
        "notice", "recheck", "optioncheck", "transcript", "said", "envelope", "configcode"}
#: What a pure module must not import: offlineimap, the IMAP and socket libraries, the database.
FORBIDDEN_IN_PURE = {"offlineimap", "imaplib2", "imaplib", "socket", "ssl", "socketserver", "sqlite3"}
#: The state layer, named apart so a failure says which rule broke.
STATE = {"store", "store_schema", "store_sqlite", "store_readonly", "quarantine", "marks"}
#: The test kit.
TEST_KIT = "testing"
#: Product modules allowed to import the test kit, each only inside the one function named here (lazily).
TEST_KIT_IMPORTERS = {"cli": "cmd_demo"}
#: Test kit modules allowed to use the product, and which product modules (as a user's script would).
PRODUCT_USERS_IN_TEST_KIT = {"testing.demo": {"config", "errors", "quarantine", "report", "sanitize", "store"}}
MAX_LINES = 400
#: Modules over MAX_LINES whose split is under way (none now: name one here while it is being split).
SCHEDULED_SPLITS: set[str] = set()


# --- reading imports -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, relative to nothing ("offlineimap_phantomfix.cli")
    target: str  # the absolute dotted name imported ("offlineimap_phantomfix.store", "socket")
    function: str | None  # the innermost function the import sits in; None at module level
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: Iterable[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = set(known)
        self.functions: list[str] = []
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.stmt) -> None:
        function = self.functions[-1] if self.functions else None
        self.found.append(Import(self.module, target, function, node.lineno))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            self._add(candidate if candidate in self.known else base, node)


def collect_imports(files: Mapping[str, Path]) -> list[Import]:
    """Every import statement of every module, module-level and inside functions (TYPE_CHECKING ones too)."""
    found: list[Import] = []
    for name, path in files.items():
        collector = _Collector(name, path.name == "__init__.py", files)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return found


def owning_module(target: str, known: Iterable[str]) -> str | None:
    """The package module an imported name belongs to (the longest known prefix), or None."""
    names = set(known)
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in names:
            return candidate
    return None


def import_cycles(files: Mapping[str, Path]) -> list[list[str]]:
    """Strongly connected components of more than one module in the package's import graph (Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in files}
    for item in collect_imports(files):
        target = owning_module(item.target, files)
        if target is not None and target != item.importer:
            graph[item.importer].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _short(name: str) -> str:
    return name[len(PACKAGE) + 1:] if name.startswith(PACKAGE + ".") else name


def _full(short: str) -> str:
    return f"{PACKAGE}.{short}" if short else PACKAGE


def _in(name: str, short_package: str) -> bool:
    return name == _full(short_package) or name.startswith(_full(short_package) + ".")


def _where(item: Import) -> str:
    inside = f" in {item.function}()" if item.function else ""
    return f"{_short(item.importer)} line {item.line}{inside}: imports {item.target}"


FILES = module_files(PACKAGE_DIR)
IMPORTS = collect_imports(FILES)


# --- the rules as tests ----------------------------------------------------------------------------------

def test_the_rules_name_modules_that_exist() -> None:
    named = PURE | STATE | set(TEST_KIT_IMPORTERS) | set(PRODUCT_USERS_IN_TEST_KIT)
    named |= {module for allowed in PRODUCT_USERS_IN_TEST_KIT.values() for module in allowed}
    assert sorted(name for name in named if _full(name) not in FILES) == []
    assert sorted(path for path in SCHEDULED_SPLITS if not (PACKAGE_DIR / path).is_file()) == []


def test_pure_modules_import_no_offlineimap_sockets_database_or_state() -> None:
    pure = {_full(name) for name in PURE}
    offenders: list[str] = []
    for item in IMPORTS:
        if item.importer not in pure:
            continue
        inside = owning_module(item.target, FILES)
        if item.target.split(".")[0] in FORBIDDEN_IN_PURE:
            offenders.append(_where(item))
        elif inside is not None and _short(inside) in STATE:
            offenders.append(_where(item) + " (the state layer)")
        elif inside is not None and inside not in pure:
            offenders.append(_where(item) + " (not a pure module)")
    assert offenders == [], "\n".join(offenders)


def test_the_product_reaches_the_test_kit_only_from_the_demo_command() -> None:
    offenders = [
        _where(item)
        for item in IMPORTS
        if not _in(item.importer, TEST_KIT)
        and _in(item.target, TEST_KIT)
        and (item.function is None or TEST_KIT_IMPORTERS.get(_short(item.importer)) != item.function)
    ]
    assert offenders == [], "\n".join(offenders)


def test_the_test_kit_uses_the_product_only_where_allowed() -> None:
    offenders: list[str] = []
    for item in IMPORTS:
        target = owning_module(item.target, FILES)
        if not _in(item.importer, TEST_KIT) or target is None or _in(target, TEST_KIT):
            continue
        allowed = PRODUCT_USERS_IN_TEST_KIT.get(_short(item.importer), set())
        if _short(target) not in allowed:
            offenders.append(_where(item))
    assert offenders == [], "\n".join(offenders)


def test_no_import_cycles_in_the_package() -> None:
    cycles = [" -> ".join(_short(name) for name in cycle) for cycle in import_cycles(FILES)]
    assert cycles == [], "modules that import each other (directly or round about): " + "; ".join(cycles)


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _says_why_it_is_long(path: Path) -> bool:
    """The first sentence of the module docstring names the limit ("... over 400 lines because ...")."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first_sentence = re.split(r"(?<=[.!?])\s", " ".join(docstring.split()), maxsplit=1)[0]
    return f"{MAX_LINES} lines" in first_sentence


def oversized_modules() -> dict[str, int]:
    return {
        path.relative_to(PACKAGE_DIR).as_posix(): _line_count(path)
        for path in FILES.values()
        if _line_count(path) > MAX_LINES and not _says_why_it_is_long(path)
    }


def test_no_module_grows_past_the_limit_unless_its_split_is_scheduled() -> None:
    unplanned = {path: lines for path, lines in oversized_modules().items() if path not in SCHEDULED_SPLITS}
    assert unplanned == {}, f"over {MAX_LINES} lines without a reason in the docstring's first sentence"


def test_no_module_over_the_limit() -> None:
    assert oversized_modules() == {}, f"over {MAX_LINES} lines without a reason in the docstring's first sentence"


# --- the checker itself, on a throw-away package ---------------------------------------------------------

def test_the_checker_sees_relative_lazy_and_package_imports_and_finds_their_cycle(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("from .sub import b\n")
    (root / "sub" / "__init__.py").write_text("from . import b\n")
    (root / "sub" / "b.py").write_text("def later():\n    from ..c import thing\n    return thing\n")
    (root / "c.py").write_text("import socket\nfrom pkg import a\nthing = 1\n")
    (root / "d.py").write_text("from pkg.c import thing\n")
    files = module_files(root)
    imports = {(item.importer, item.target, item.function) for item in collect_imports(files)}
    assert ("pkg.a", "pkg.sub.b", None) in imports
    assert ("pkg.sub", "pkg.sub.b", None) in imports
    assert ("pkg.sub.b", "pkg.c", "later") in imports
    assert ("pkg.c", "socket", None) in imports
    assert import_cycles(files) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (root / "c.py").write_text("thing = 1\n")
    assert import_cycles(files) == []
