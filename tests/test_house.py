"""The arrows point down: the domain packages never import the web layer or the CLI, a view never
imports another view, and only the CLI imports the CLI.

Imports are read with `ast` from the installed package's files (views/ is mapped into
bpo2_bridge.views, so it is found through its own package), relative ones resolved, and those
under `if TYPE_CHECKING:` or inside functions count like any other.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

# packages that hold what the bridge knows and does, whoever asks (web, CLI, scheduler)
DOMAIN = ("queries", "sync", "cache", "source", "store", "renewals", "report", "checks", "demo")
WEB_ONLY = ("flask", "flask_wtf", "werkzeug", "bpo2_bridge.web", "bpo2_bridge.views", "bpo2_bridge.cli")
# werkzeug.security is plain hashing (hashlib's pbkdf2/scrypt in werkzeug's "method$salt$hash"
# format), no request or app machinery; the stored password hashes are in that format, and the
# CLI's `users` commands hash without any app
ALLOWED = {("bpo2_bridge.store.users", "werkzeug.security")}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations)))


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    """(dotted module name, file) of every module in the package, subpackages included."""
    root = _package_dir(package)
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(part.startswith(".") for part in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        # views/ is mapped into bpo2_bridge.views; a link to it from bpo2_bridge/ is walked there
        if package == "bpo2_bridge" and parts and parts[0] in ("views", "templates", "sql", "config"):
            continue
        yield ".".join((package, *parts)), path


def _all_modules() -> list[tuple[str, Path]]:
    return [*_modules("bpo2_bridge"), *_modules("bpo2_bridge.views")]


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported name) for every import in the file; `from a import b` yields a.b, which
    names the submodule when b is one and starts with a either way."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _in_package(module: str, package: str) -> bool:
    return _under(module, f"bpo2_bridge.{package}")


def _shown(path: Path) -> str:
    """The file's path from the repository root (views/ sits beside bpo2_bridge/)."""
    for package in ("bpo2_bridge", "bpo2_bridge.views"):
        root = _package_dir(package).parent
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return str(path)


def _why(module: str, name: str) -> str | None:
    """Why `module` may not import `name`, or None when it may."""
    if (
        any(_in_package(module, p) for p in DOMAIN)
        and any(_under(name, p) for p in WEB_ONLY)
        and not any(module == m and _under(name, allowed) for m, allowed in ALLOWED)
    ):
        return "a domain package imports the web layer or the CLI"
    # `from bpo2_bridge import views` reads as bpo2_bridge.views: the package, no view
    views = _in_package(module, "views") and _under(name, "bpo2_bridge.views")
    if views and name not in ("bpo2_bridge.views", module):
        return "a view imports another view"
    if not _in_package(module, "cli") and _under(name, "bpo2_bridge.cli"):
        return "only the CLI imports the CLI"
    return None


def offences() -> list[str]:
    found = []
    for module, path in _all_modules():
        for line, name in _imports(module, path):
            why = _why(module, name)
            if why:
                found.append(f"{_shown(path)}:{line} imports {name} ({why})")
    return found


def test_the_walk_finds_every_package_and_the_views() -> None:
    names = {module for module, _ in _all_modules()}
    for package in (*DOMAIN, "web", "cli", "views"):
        assert f"bpo2_bridge.{package}" in names, package
    assert "bpo2_bridge.views.contracts" in names
    assert "bpo2_bridge.store.users" in names


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    source = tmp_path / "contracts.py"
    source.write_text(
        "from .customers import back_url\nfrom . import cases\nfrom ..web.grid import Grid\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import flask\n"
    )
    assert list(_imports("bpo2_bridge.views.contracts", source)) == [
        (1, "bpo2_bridge.views.customers.back_url"),
        (2, "bpo2_bridge.views.cases"),
        (3, "bpo2_bridge.web.grid.Grid"),
        (4, "typing.TYPE_CHECKING"),
        (6, "flask"),
    ]


def test_arrows_point_down() -> None:
    found = offences()
    assert not found, "imports against the layering:\n" + "\n".join(found)
