"""Atomic file output: write to a hidden temporary sibling, then rename into place.

The one way dreem publishes an output. A crash, a kill or a failed write leaves either the
old file or nothing, never a half-written file under the final name:

* the temporary file is renamed only when the block that writes it exits without error
  *and* the file exists, was flushed to disk (``fsync``) and passes ``verify`` (e.g. a
  Parquet footer check) — a writer that reports success after a failed write cannot
  publish;
* :func:`atomic_group` publishes several outputs of one job together or not at all;
* a write that fails for lack of space or permission raises :class:`OutputError` naming
  the file (the CLI prints it as one line);
* temporary files of a killed writer (``.{stem}.{pid}-{host}-{random}.tmp{ext}``) are
  removed the next time the same target is written, unless the process that made them
  is still alive on this host (only the target's own name pattern is ever touched).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from dreem.utils.errors import DreemError, OutputError

Verify = Callable[[Path], None]

# errors of a write that no retry of the same command can fix: report them, naming the file
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"


def _ext(target: Path, suffix: str | None) -> str:
    return suffix if suffix is not None else "".join(target.suffixes) or ""


def _tmp_prefix(target: Path) -> str:
    return f".{target.stem}."


# what atomic_path puts between a temporary's prefix and its ".tmp{ext}": the writer's pid
# and host (the groups), then mkstemp's random part
_WRITER = r"(\d+)-([A-Za-z0-9]*)-[A-Za-z0-9_]+"


def _stale_pattern(target: Path, ext: str) -> re.Pattern:
    prefix, tail = re.escape(_tmp_prefix(target)), re.escape(f".tmp{ext}")
    return re.compile(prefix + _WRITER + tail)


def _alive_here(pid: int, host: str) -> bool:
    """True if ``pid`` runs on this host (a temporary file of a live writer)."""
    if host != _HOST:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike, suffix: str | None = None) -> list[Path]:
    """Remove temporary siblings that a killed writer of ``target`` left; return them.

    Only names made by :func:`atomic_path` for this very target are considered, and only
    those whose writer process is not alive on this host (a job writes its own outputs;
    Snakemake never runs two jobs for one output).
    """
    target = Path(target)
    return _remove_dead_writers(target.parent, _stale_pattern(target, _ext(target, suffix)))


# any name atomic_path makes: .{stem}.{pid}-{host}-{random}.tmp{ext}
_ANY_TEMPORARY = re.compile(r"\..+\." + _WRITER + r"\.tmp.*")


def remove_stale_temporaries_in(folder: str | os.PathLike) -> list[Path]:
    """Remove every temporary file or folder of :func:`atomic_path` directly in ``folder``
    whose writer is not alive on this host (e.g. checkpoints a killed training was writing,
    whose names a resumed run never writes again); return them."""
    return _remove_dead_writers(Path(folder), _ANY_TEMPORARY)


def _remove_dead_writers(folder: Path, pattern: re.Pattern) -> list[Path]:
    """Remove the entries of ``folder`` whose names match ``pattern`` (groups: writer pid,
    host) and whose writer is not alive on this host."""
    removed: list[Path] = []
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or _alive_here(int(m.group(1)), m.group(2)):
            continue
        p = folder / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(p)
    return removed


def _output_error(target: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(exc.errno, f"cannot write {target}: {reason}", str(target))


def _stage(target: Path, suffix: str | None) -> Path:
    """A fresh temporary path next to ``target`` (not created: writers create it)."""
    ext = _ext(target, suffix)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target, suffix)
        fd, tmp = tempfile.mkstemp(
            prefix=f"{_tmp_prefix(target)}{os.getpid()}-{_HOST}-",
            suffix=f".tmp{ext}",
            dir=target.parent,
        )
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise _output_error(target, exc) from exc
    return Path(tmp)


def _discard(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _fsync(path: Path) -> None:
    """Flush a written file to disk (a full network disk may fail only here). Folders are
    not flushed file by file: their writers closed each file, which reports a failed
    write."""
    if not path.is_file():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _finish(tmp: Path, target: Path, verify: Verify | None) -> None:
    """Check that a written temporary file is complete (raises otherwise)."""
    if not tmp.exists():
        raise OutputError(errno.EIO, f"cannot write {target}: the writer made no file", str(target))
    try:
        _fsync(tmp)
    except OSError as exc:
        raise _output_error(target, exc) from exc
    if verify is not None:
        try:
            verify(tmp)
        except DreemError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failed check means "incomplete"
            message = f"cannot write {target}: the written file is incomplete ({exc})"
            raise OutputError(errno.EIO, message, str(target)) from exc


def _replace(tmp: Path, target: Path) -> None:
    try:
        if tmp.is_dir() and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError as exc:
        raise _output_error(target, exc) from exc


def _reraise(exc: BaseException, targets: list[Path]) -> None:
    """Re-raise a failed write; a full disk or read-only folder becomes an OutputError."""
    if isinstance(exc, OSError) and not isinstance(exc, DreemError) and exc.errno in WRITE_ERRNOS:
        raise _output_error(targets[0] if len(targets) == 1 else targets[0].parent, exc) from exc
    raise exc


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike, suffix: str | None = None, verify: Verify | None = None
) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The temporary name keeps ``target``'s suffix (or ``suffix``) so writers that infer the
    format from the extension still work; it may become a file or a folder. The rename
    happens only if the block raised nothing, the path exists, is flushed to disk and
    ``verify(tmp)`` (if given) returns; otherwise the temporary path is removed.
    """
    target = Path(target)
    tmp = _stage(target, suffix)
    try:
        yield tmp
        _finish(tmp, target, verify)
        _replace(tmp, target)
    except BaseException as exc:
        _discard(tmp)
        _reraise(exc, [target])


@contextlib.contextmanager
def atomic_group() -> Iterator[Callable[..., Path]]:
    """Publish several outputs together or not at all.

    ``with atomic_group() as stage: tmp = stage(target[, suffix, verify])`` gives a
    temporary path per target; all are checked as in :func:`atomic_path` and renamed only
    after the block succeeded, in the order they were staged (stage the file that marks the
    set complete last). If a rename fails, the outputs already renamed are removed.
    """
    staged: list[tuple[Path, Path, Verify | None]] = []

    def stage(
        target: str | os.PathLike, suffix: str | None = None, verify: Verify | None = None
    ) -> Path:
        target = Path(target)
        if any(t == target for t, _, _ in staged):
            raise ValueError(f"{target} staged twice")
        tmp = _stage(target, suffix)
        staged.append((target, tmp, verify))
        return tmp

    published: list[Path] = []
    try:
        yield stage
        for target, tmp, verify in staged:
            _finish(tmp, target, verify)
        for target, tmp, _ in staged:
            _replace(tmp, target)
            published.append(target)
    except BaseException as exc:
        for _, tmp, _ in staged:
            _discard(tmp)
        for target in published:
            _discard(target)
        _reraise(exc, [t for t, _, _ in staged] or [Path(".")])


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def link_atomic(src: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Publish file ``src`` as ``target`` atomically: a hard link (no second copy on disk;
    for files that are replaced by rename, never rewritten in place, as every file dreem
    writes) or, across file systems, a copy."""
    with atomic_path(target) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    return Path(target)
