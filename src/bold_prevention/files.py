"""Atomic writing: outputs appear under their final name only when complete.

Write into a temporary sibling, then rename; an interrupted run leaves the final name untouched (or absent).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, OutputExistsError


def _check_parent_writable(final: Path) -> None:
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create folder {parent}: {e.strerror}",
                         hint="choose an output path in a folder you can write to") from e
    if not os.access(parent, os.W_OK):
        raise InputError(f"folder {parent} is not writable", hint="choose an output path you can write to")


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``final`` when the block exits without error."""
    final = Path(final).absolute()
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output folder {final} already exists",
                                hint="pass --overwrite to replace it, or choose another folder")
    _check_parent_writable(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(final: str | os.PathLike, *, overwrite: bool = True, mode: str = "w",
                encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary file that replaces ``final`` when the block exits without error."""
    final = Path(final).absolute()
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output file {final} already exists",
                                hint="pass --overwrite to replace it, or choose another path")
    _check_parent_writable(final)
    fd, tmpname = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.close(fd)
    tmp = Path(tmpname)
    try:
        kw = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kw) as fh:
            yield fh
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path (for libraries that write files themselves) renamed to ``final`` on success."""
    final = Path(final).absolute()
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output file {final} already exists",
                                hint="pass --overwrite to replace it, or choose another path")
    _check_parent_writable(final)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
