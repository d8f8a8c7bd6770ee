"""Atomic writing: outputs appear under their final name only when complete.

Write into a temporary sibling, then rename; an interrupted run leaves the final name untouched (or absent).

Temporary names carry the owning process id (``.<name>.tmp-<pid>-<tag>``; a replaced folder is parked as
``.<name>.old-<pid>-<tag>`` for the instant of the swap). A run that was killed leaves them behind; the next command
that writes into the same folder removes those whose process is gone (:func:`clean_stale_temporaries`), and puts a
parked folder back when the swap never completed. Nothing else in the folder is touched.

Operating-system failures (a full disk, a read-only or forbidden folder, a symbolic-link loop) are translated into
one readable message by :func:`storage_error`; the command line shows it instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import BoldError, InputError, OutputExistsError


class StorageError(InputError):
    """The operating system refused a read or write: a full disk, a read-only or forbidden folder.

    A kind of :class:`InputError` (the user fixes it by choosing another folder or freeing space), so callers that
    handle bad input handle it too."""


#: The toolkit's own temporary names: ``.<name>.tmp-<pid>-<tag>[suffix]`` and ``.<name>.old-<pid>-<tag>``.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-(?P<tag>[0-9a-f]{8})(?P<suffix>\.[^.]+)?$")


def _tag() -> str:
    return secrets.token_hex(4)


def temp_name(final_name: str, kind: str = "tmp", *, keep_suffix: bool = False) -> str:
    """The hidden temporary name of ``final_name`` owned by this process."""
    if keep_suffix and "." in final_name.strip("."):
        stem, suffix = final_name.rsplit(".", 1)
        return f".{stem}.{kind}-{os.getpid()}-{_tag()}.{suffix}"
    return f".{final_name}.{kind}-{os.getpid()}-{_tag()}"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (ours counts as alive)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files and folders that killed runs left in ``folder`` (their process is gone).

    Only names that follow the toolkit's pattern (:data:`TEMP_NAME`) are considered. A parked ``.old-`` folder whose
    final name is missing is put back (the swap that parked it never completed). Returns what was done.
    """
    folder = Path(folder)
    done: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return done
    for p in sorted(entries):
        m = TEMP_NAME.match(p.name)
        if not m or process_alive(int(m.group("pid"))):
            continue
        try:
            if m.group("kind") == "old":
                final = folder / m.group("name")
                if not final.exists() and not final.is_symlink():
                    p.rename(final)
                    done.append(f"restored {final.name} from an interrupted replacement")
                    continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            done.append(f"removed {p.name} left by an interrupted run")
        except OSError:
            continue
    return done


# ------------------------------------------------------------------------------------------ operating-system errors
_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_READ_ONLY = (errno.EROFS,)
_FORBIDDEN = (errno.EACCES, errno.EPERM)
_TEXT_KINDS = (
    ("no space left on device", errno.ENOSPC), ("disk quota exceeded", errno.ENOSPC),
    ("read-only file system", errno.EROFS), ("permission denied", errno.EACCES),
    ("operation not permitted", errno.EPERM), ("too many levels of symbolic links", errno.ELOOP),
)


def storage_errno(e: BaseException) -> int | None:
    """The errno of an OSError, or of an engine error whose text names one (DuckDB reports disk-full as text)."""
    if isinstance(e, OSError) and e.errno:
        return e.errno
    low = str(e).lower()
    for text, code in _TEXT_KINDS:
        if text in low:
            return code
    return None


def _folder_of(path: str | os.PathLike | None) -> str:
    if not path:
        return "the output folder"
    p = Path(os.fsdecode(path))
    return str(p if p.is_dir() else p.parent)


def storage_error(e: BaseException, path: str | os.PathLike | None = None, *, reading: bool = False
                  ) -> BoldError | None:
    """A readable error for an OS-level failure (None when ``e`` is not one).

    ``path`` names the file or folder concerned when the exception does not (engine errors rarely do).
    """
    code = storage_errno(e)
    if code is None:
        if not isinstance(e, OSError):
            return None
        code = 0
    name = getattr(e, "filename", None) if isinstance(e, OSError) else None
    target = os.fsdecode(name) if name else (os.fsdecode(path) if path else None)
    if code in _NO_SPACE:
        return StorageError(f"the disk is full: no space left to write in {_folder_of(target)}",
                            hint="free space on that disk, or choose a folder on another disk (--project / --out); "
                                 "earlier outputs were left as they were")
    if code in _READ_ONLY:
        return StorageError(f"folder {_folder_of(target)} is on a read-only file system",
                            hint="choose a folder you can write to (--project / --out)")
    if code in _FORBIDDEN:
        what = target or "a file or folder"
        return StorageError(f"permission denied: cannot {'read' if reading else 'write'} {what}",
                            hint="check the folder's permissions, or choose a folder you can "
                                 f"{'read' if reading else 'write to'}")
    if code == errno.ELOOP:
        return InputError(f"{target or 'a path'} is a symbolic link loop (it points back at itself)",
                          hint="replace the link with the file it should point at")
    if code == errno.ENOENT:
        if target and os.path.islink(target):
            return InputError(f"{target} is a symbolic link to a file that does not exist (a dangling link)",
                              hint="point the link at the real file, or remove it")
        return InputError(f"{target or 'a file'} does not exist",
                          hint="check the path; the file may have been moved or deleted while the command ran")
    if code in (errno.ENOTDIR, errno.EISDIR):
        return InputError(f"{target or 'a path'} is {'not ' if code == errno.ENOTDIR else ''}a folder",
                          hint="check the path")
    if code in (errno.ENAMETOOLONG,):
        return InputError(f"a file name is too long: {target}", hint="choose a shorter path")
    strerror = getattr(e, "strerror", None) or type(e).__name__
    return StorageError(f"the operating system refused to {'read' if reading else 'write'} "
                        f"{target or 'a file'}: {strerror}",
                        hint="check the disk and the folder's permissions, then run the command again")


def path_problem(p: Path) -> str | None:
    """A message when ``p`` cannot be opened as a file: a link loop, a dangling link, no permission; else None."""
    try:
        st = p.stat()
    except OSError as e:
        err = storage_error(e, p, reading=True)
        return err.message if err else f"{p.name} cannot be opened"
    if not os.access(p, os.R_OK):
        return f"permission denied: cannot read {p}"
    if p.is_dir():
        return None
    if st.st_size < 0:  # pragma: no cover - defensive
        return f"{p.name} has no size"
    return None


# -------------------------------------------------------------------------------------------------- atomic writes
def _check_parent_writable(final: Path) -> None:
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        err = storage_error(e, parent)
        if isinstance(err, StorageError):
            raise err from e
        raise InputError(f"cannot create folder {parent}: {e.strerror}",
                         hint="choose an output path in a folder you can write to") from e
    if not os.access(parent, os.W_OK):
        raise StorageError(f"folder {parent} is not writable",
                           hint="choose an output path in a folder you can write to")
    clean_stale_temporaries(parent)


def _raise_storage(e: OSError, where: Path) -> None:
    err = storage_error(e, where)
    if err is not None:
        raise err from e


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``final`` when the block exits without error."""
    final = Path(final).absolute()
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output folder {final} already exists",
                                hint="pass --overwrite to replace it, or choose another folder")
    _check_parent_writable(final)
    tmp = final.with_name(temp_name(final.name))
    try:
        tmp.mkdir()
    except OSError as e:
        _raise_storage(e, final.parent)
        raise
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        if final.exists():
            old = final.with_name(temp_name(final.name, "old"))
            final.rename(old)
        tmp.rename(final)
    except OSError as e:
        if old is not None and not final.exists():
            with contextlib.suppress(OSError):
                old.rename(final)
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_storage(e, final.parent)
        raise
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
    tmp = final.with_name(temp_name(final.name))
    try:
        kw = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kw) as fh:
            yield fh
        os.replace(tmp, final)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        _raise_storage(e, final.parent)
        raise
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
    tmp = final.with_name(temp_name(final.name, keep_suffix=True))
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        _raise_storage(e, final.parent)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
