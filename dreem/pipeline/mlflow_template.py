"""New SQLite MLflow stores start as a copy of an empty store made once per MLflow version.

Creating a store runs MLflow's schema migrations, one after another (1.4 s of CPU on this
project's 2-core machine, MLflow 3.17); opening a copy of an already migrated, empty store
takes 0.5 s. Every pipeline output and every ``dreem train -o DIR`` gets a store of its own,
so the copy is what most runs pay. The template lives in the user's cache
(``$XDG_CACHE_HOME/dreem-pipeline``, else ``~/.cache/dreem-pipeline``), named by the MLflow
and SQLAlchemy versions; it holds the tables and no experiment (MLflow adds its Default
experiment, with this store's own artifact root, when it opens the copy). No cache, or a
damaged template, falls back to MLflow creating the store itself; a copy MLflow refuses is
removed with the template, so the next attempt does the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"


def cache_dir() -> Path:
    """Where templates are kept."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "dreem-pipeline"


def template_path() -> Path:
    """The template for the installed MLflow and SQLAlchemy."""
    import mlflow
    import sqlalchemy

    return cache_dir() / f"mlflow-{mlflow.__version__}-sqlalchemy-{sqlalchemy.__version__}.db"


def new_sqlite_store(uri: str) -> Path | None:
    """The database file of ``uri`` when it is a SQLite store that does not exist yet."""
    if not uri.startswith(SQLITE):
        return None
    db = Path(uri[len(SQLITE) :])
    return None if db.exists() else db


def _looks_migrated(path: Path) -> bool:
    """True when ``path`` is a SQLite database with MLflow's tables and a schema version."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            return {"alembic_version", "experiments", "runs"} <= tables and bool(
                db.execute("SELECT version_num FROM alembic_version").fetchone()
            )
    except sqlite3.Error:
        return False


def seed(db: Path) -> bool:
    """Copy the template to ``db`` (a store about to be created); False when there is none
    (a damaged template is removed)."""
    template = template_path()
    if not template.is_file():
        return False
    if not _looks_migrated(template):
        log.warning("MLflow: removing a damaged cached empty store %s", template)
        with contextlib.suppress(OSError):
            template.unlink()
        return False
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.tmp")
    shutil.copyfile(template, tmp)
    os.replace(tmp, db)
    return True


def save(db: Path) -> None:
    """Keep an empty copy of the freshly created store ``db`` as the template (best effort:
    a cache that cannot be written only means the next store is created the slow way)."""
    template = template_path()
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=template.parent, suffix=".db.tmp")
        os.close(fd)
        with contextlib.closing(sqlite3.connect(db)) as src:
            with contextlib.closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
                dst.execute("DELETE FROM experiment_tags")
                dst.execute("DELETE FROM experiments")
                dst.commit()
        os.replace(tmp, template)
    except (OSError, sqlite3.Error) as exc:
        log.debug("MLflow store template not saved: %s", exc)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def discard(db: Path) -> None:
    """Remove a seeded store MLflow refused, and the template it came from."""
    for path in (db, template_path()):
        with contextlib.suppress(OSError):
            path.unlink()
