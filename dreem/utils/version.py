"""The code version a result was made with: the package version plus, in a git checkout,
the commit (``+dirty`` when the working tree has uncommitted changes)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import dreem


@functools.cache
def code_version() -> str:
    """``0.1.0 (git 1a2b3c4)``, ``0.1.0 (git 1a2b3c4+dirty)`` or ``0.1.0``."""
    root = Path(dreem.__file__).resolve().parent.parent

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "dreem"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    if not commit:
        return dreem.__version__
    return f"{dreem.__version__} (git {commit}{'+dirty' if dirty else ''})"
