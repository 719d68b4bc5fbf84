"""Which source files a pipeline rule runs, derived from imports (its code rerun trigger).

A rule's script imports ``dreem`` modules, mostly inside functions (lazy imports); the
imports are found by walking each module's syntax tree, so no list is kept by hand. A
change to any file a rule can reach reruns that rule (and what depends on its outputs).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

import dreem

PACKAGE_DIR = Path(dreem.__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    """The file of module ``dreem.a.b`` (a package's ``__init__.py``), if it exists."""
    parts = name.split(".")
    if parts[0] != "dreem":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.resolve().relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported(path: Path, only: str | None = None) -> set[str]:
    """Names of the ``dreem`` modules ``path`` imports anywhere in the file, or, with
    ``only``, at module level and inside the function ``only``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _module_name(path) if path.resolve().is_relative_to(PACKAGE_DIR) else ""
    names: set[str] = set()
    nodes = list(ast.walk(tree))
    if only is not None:
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == only]
        if not funcs:
            raise ValueError(f"{path}: no function {only!r}")
        nodes = top + list(ast.walk(funcs[0]))
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside the package
                base = own.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)  # submodules
    return {n for n in names if n == "dreem" or n.startswith("dreem.")}


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def reachable_files(entries: Iterable[Path], seed_modules: Iterable[str] = ()) -> list[Path]:
    """Every ``dreem`` source file the ``entries`` (files) and ``seed_modules`` (module
    names) can import, transitively (sorted)."""
    todo = [Path(e) for e in entries]
    for name in seed_modules:
        todo += [f for mod in _with_parents(name) if (f := _module_file(mod)) is not None]
    seen: set[Path] = set()
    while todo:
        path = todo.pop().resolve()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported(path):
            for mod in _with_parents(name):
                f = _module_file(mod)
                if f is not None and f.resolve() not in seen:
                    todo.append(f)
    return sorted(seen)


@functools.cache
def job_code(job: str, script: Path | None = None) -> dict[str, str]:
    """``{"version", "sources"}`` for a rule's ``params: code=``: a hash of the rule's
    script and of every package file its job function (``dreem.pipeline.jobs.<job>``) can
    import, so editing e.g. ``dreem/inference/`` reruns track onward only."""
    jobs_file = PACKAGE_DIR / "pipeline" / "jobs.py"
    files = reachable_files([], _imported(jobs_file, only=job))
    h = hashlib.sha256(_function_source(jobs_file, job).encode())
    for f in [*files, *([Path(script).resolve()] if script else [])]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return {"version": dreem.__version__, "sources": h.hexdigest()[:16]}


def _function_source(path: Path, name: str) -> str:
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    raise ValueError(f"{path}: no function {name!r}")


def job_files(job: str) -> list[Path]:
    """The package files the job function ``job`` can import (for tests and docs)."""
    return reachable_files([], _imported(PACKAGE_DIR / "pipeline" / "jobs.py", only=job))
