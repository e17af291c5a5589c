"""No module-level mutable state: whatever must live longer than a request hangs off the Bridge
(or app.extensions), made in one place and closed in `Bridge.dispose`.

The modules' source is read as syntax, not imported: module-level assignments of dict, list or
set displays and comprehensions, of calls that make containers, locks or context variables, and
of any class instance (a CapWords call, PEP 8) but a few value-like ones (VALUE_CLASSES) and the
project's frozen dataclasses: a Jinja Environment keeps a template cache, a CSRFProtect or any
other object made at import is shared by every app and Bridge of the process. Also
functools.cache / lru_cache memos, and `global` statements. Constants are tuples, frozensets,
compiled regexes, or mappings wrapped in types.MappingProxyType.

Calls of lower-case names are functions (re.compile, logging.getLogger, select(...)); what they
return is not looked at, but for the containers of MUTABLE_CALLS."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from bpo2_bridge.bridge import Bridge
from bpo2_bridge.sync.results import RefreshResult

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (ROOT / "bpo2_bridge", ROOT / "views")

# calls whose result accumulates or coordinates state
MUTABLE_CALLS = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "WeakKeyDictionary",
        "WeakValueDictionary",
        "WeakSet",
        "ContextVar",
        "local",
        "Lock",
        "RLock",
        "Event",
        "Condition",
        "Semaphore",
        "BoundedSemaphore",
        "Queue",
        "SimpleQueue",
    }
)
# classes whose instances a module may make at import: values, or declarations that are only read
VALUE_CLASSES = frozenset(
    {
        "MappingProxyType",  # a read-only view of a dict no one else holds
        "TypeVar",  # typing only
        "Decimal",  # immutable values (dt.date, dt.time, dt.timedelta: lower-case, not classes here)
        "Path",
        # SQLAlchemy's description of tables: names and types, no connection and no rows
        "MetaData",
        "Table",
        "Column",
        "Index",
        "Blueprint",  # a view module's declaration of its routes, which each app registers
        "Grid",  # a grid's declaration (columns, sort, key): set in __init__, only read after
    }
)
MEMO_DECORATORS = frozenset({"cache", "lru_cache"})
DISPLAYS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)

# (module, name): module-level state that is not the web process's
ALLOWED = {
    # the list of names `import *` takes: read by the import system, never changed
    ("*", "__all__"),
    # the renderer of a PDF worker process (set there only, by its first document): it lives as
    # long as that worker, whose pool the Bridge's PdfMaker owns and shuts down
    ("bpo2_bridge/report/render.py", "_worker_renderer"),
}

# Constant tables still written as dict/set/list displays, left as they were: they sit in
# modules another branch is changing now. Each is to become a MappingProxyType, frozenset or
# tuple; the list may only shrink (test_not_yet_lists_only_what_is_still_there).
NOT_YET: dict[str, tuple[str, ...]] = {}


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            # the repository's views/ is linked into bpo2_bridge/ in a development checkout
            if package.name == "bpo2_bridge" and path.relative_to(package).parts[0] in {"views"}:
                continue
            yield path


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import: the module's own, and those inside its if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _module_statements(handler.body)


def _is_frozen_dataclass(node: ast.ClassDef) -> bool:
    return any(
        isinstance(d, ast.Call)
        and _name(d) == "dataclass"
        and any(k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value for k in d.keywords)
        for d in node.decorator_list
    )


def frozen_dataclasses(paths: Iterable[Path]) -> frozenset[str]:
    """Names of the classes declared ``@dataclass(frozen=True)`` in the files at ``paths``: their
    instances are values (a field may still hold a container; review catches that)."""
    return frozenset(
        node.name
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and _is_frozen_dataclass(node)
    )


def _made(value: ast.expr, values: frozenset[str]) -> str | None:
    """What the module-level ``value`` makes, when that is state."""
    if isinstance(value, DISPLAYS):
        return f"a {type(value).__name__.lower()} display"
    name = _name(value) if isinstance(value, ast.Call) else None
    if name is None:
        return None
    if name in MUTABLE_CALLS:
        return f"{name}()"
    if name[:1].isupper() and name not in VALUE_CLASSES and name not in values:
        return f"{name}() (an object made at import)"
    return None


def findings(path: Path, values: frozenset[str] | None = None) -> list[tuple[str, str, str]]:
    """(module, name, what) for each piece of module-level state in the file at ``path``;
    ``values`` names the frozen dataclasses (by default: those of the file itself)."""
    module = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if values is None:
        values = frozen_dataclasses([path])
    found = []
    for node in _module_statements(tree.body):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        what = _made(value, values)
        if what:
            found += [(module, ast.unparse(t), what) for t in targets]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [
                (module, node.name, f"@{ast.unparse(d)}")
                for d in node.decorator_list
                if _name(d) in MEMO_DECORATORS
            ]
        elif isinstance(node, ast.Global):
            found += [(module, name, "global") for name in node.names]
    return [f for f in found if (f[0], f[1]) not in ALLOWED and ("*", f[1]) not in ALLOWED]


def _all_findings() -> list[tuple[str, str, str]]:
    paths = list(_modules())
    values = frozen_dataclasses(paths)
    return [f for path in paths for f in findings(path, values)]


def test_no_module_level_mutable_state() -> None:
    found = [f for f in _all_findings() if f[1] not in NOT_YET.get(f[0], ())]
    assert not found, "module-level state (hang it off the Bridge, or make it a constant):\n" + "\n".join(
        f"  {module}: {name} = {what}" for module, name, what in found
    )


def test_not_yet_lists_only_what_is_still_there() -> None:
    """An entry converted (or gone) leaves NOT_YET, so the list only shrinks."""
    still = {(module, name) for module, name, _ in _all_findings()}
    listed = {(module, name) for module, names in NOT_YET.items() for name in names}
    assert listed - still == set(), "converted: remove from NOT_YET"


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample_state.py"
    source = (
        "import functools, re, weakref\n"
        "from contextvars import ContextVar\n"
        "from dataclasses import dataclass\n"
        "from types import MappingProxyType\n"
        "import jinja2\n"
        "from flask import Blueprint\n"
        "from flask_wtf.csrf import CSRFProtect\n"
        "SEEN = {}\n"
        "flights = weakref.WeakKeyDictionary()\n"
        "CURRENT: ContextVar[int] = ContextVar('current')\n"
        "NAMES = frozenset({'a'})\n"
        "TABLE = MappingProxyType({'a': 1})\n"
        "WORD = re.compile('w+')\n"
        "bp = Blueprint('sample', __name__)\n"
        "ENV = jinja2.Environment()\n"
        "csrf = CSRFProtect()\n"
        "@dataclass(frozen=True)\n"
        "class Point:\n"
        "    x: int\n"
        "class Tally:\n"
        "    pass\n"
        "ORIGIN = Point(0)\n"
        "COUNTS = Tally()\n"
        "@functools.cache\n"
        "def memo(x): return x\n"
        "def bump():\n"
        "    global SEEN\n"
    )
    sample.write_text(source)
    found = {(name, what) for _, name, what in findings(sample)}
    assert found == {
        ("SEEN", "a dict display"),
        ("flights", "WeakKeyDictionary()"),
        ("CURRENT", "ContextVar()"),
        ("ENV", "Environment() (an object made at import)"),
        ("csrf", "CSRFProtect() (an object made at import)"),
        ("COUNTS", "Tally() (an object made at import)"),
        ("memo", "@functools.cache"),
        ("SEEN", "global"),
    }


def test_two_bridges_share_no_refresh_runs_and_no_pdf_pool(make_settings) -> None:
    """A run shared by Refresh presses, and the PDF workers, belong to one Bridge."""
    import threading

    first, second = Bridge(make_settings()), Bridge(make_settings())
    try:
        assert first.refreshes is not second.refreshes
        assert first.sql_files is not second.sql_files
        assert first.reports.pdf is not second.reports.pdf
        # a run of ACC1 in flight on the first bridge: the second bridge's press runs its own
        started, release = threading.Event(), threading.Event()
        result = RefreshResult("ACC1", 1, 1, first.settings.now(), first.settings.now())

        def slow() -> RefreshResult:
            started.set()
            release.wait(10)
            return result

        pressed = threading.Thread(target=lambda: first.refreshes.share("ACC1", slow))
        pressed.start()
        assert started.wait(10)
        assert first.refreshes.running() == ["ACC1"] and second.refreshes.running() == []
        own = RefreshResult("ACC1", 1, 2, first.settings.now(), first.settings.now())
        assert second.refreshes.share("ACC1", lambda: own) is own
        release.set()
        pressed.join(10)
        assert first.refreshes.running() == []

        first.reports.pdf.use_workers(1, warm=False)
        second.reports.pdf.use_workers(1, warm=False)
        one, two = first.reports.pdf.worker_pid(), second.reports.pdf.worker_pid()
        assert one is not None and two is not None and one != two
        first.dispose()  # its workers stop; the other bridge's keep rendering
        assert first.reports.pdf.worker_pid() is None
        assert second.reports.pdf.worker_pid() == two
        assert second.reports.pdf("<p>still here</p>").startswith(b"%PDF")
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.parametrize("module", ["bpo2_bridge/sync/refresh.py", "bpo2_bridge/report/render.py"])
def test_refresh_and_pdf_hold_no_module_state(module: str) -> None:
    assert findings(ROOT / module) == []


def test_each_app_has_its_own_csrf_protection(demo_bridge) -> None:
    """The form-token guard is made with the app and kept in its extensions, not shared."""
    from bpo2_bridge.web.app import create_app

    first, second = create_app(bridge=demo_bridge), create_app(bridge=demo_bridge)
    assert first.extensions["csrf"] is not second.extensions["csrf"]
    for app in (first, second):
        assert app.test_client().post("/logout").status_code == 400
