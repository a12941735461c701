"""Files only their owner may read: the process umask, private folders and files, and tightening
whatever shardkit finds looser (the data folder holds password verifiers, keys and logs)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final, TextIO

__all__ = [
    "PRIVATE_UMASK",
    "SQLITE_SIDE_SUFFIXES",
    "create_private_dirs",
    "create_private_file",
    "ensure_private_dir",
    "open_private_append",
    "restrict_umask",
    "secure_data_dir",
    "secure_sqlite_files",
    "tighten",
]

log = logging.getLogger("shardkit.files")

PRIVATE_UMASK: Final[int] = 0o077
"""Every shardkit process runs with it: what it (or a child, pg_dump) creates is owner-only."""

SQLITE_SIDE_SUFFIXES: Final[tuple[str, ...]] = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database; they hold its recent commits."""

_GROUP_OTHER: Final[int] = 0o077


def restrict_umask() -> int:
    """Set the process umask to 0o077 (at process start); returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def tighten(path: Path, *, what: str = "") -> bool:
    """Drop the group and other permission bits of ``path`` if it has any, and log that it did.

    Only what this process's user owns is changed, never a symbolic link's target and never a
    sticky folder (``/tmp`` and the like are shared by design). Returns True if it changed.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mode = stat.S_IMODE(st.st_mode)
    if (
        not mode & _GROUP_OTHER
        or stat.S_ISLNK(st.st_mode)
        or st.st_uid != os.geteuid()
        or mode & stat.S_ISVTX
    ):
        return False
    try:
        os.chmod(path, mode & ~_GROUP_OTHER)
    except FileNotFoundError:
        return False  # removed meanwhile (a rotated backup, a finished upload)
    log.warning("tightened %s%s from mode %03o to %03o: other users could read it",
                f"{what} " if what else "", path, mode, mode & ~_GROUP_OTHER)
    return True


def create_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 700 (existing folders are left alone)."""
    missing = []
    current = Path(path)
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # another process made it meanwhile


def ensure_private_dir(path: Path, *, what: str = "") -> Path:
    """A folder that holds private data: created mode 700, or tightened if it is looser."""
    create_private_dirs(path)
    tighten(path, what=what)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 600 unless it exists; an existing one is tightened."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        tighten(path)


def open_private_append(path: Path) -> TextIO:
    """Open a log file for appending: created mode 600, tightened if it was looser."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        tighten(path, what="log file")
        return os.fdopen(fd, "a", encoding="utf-8", errors="replace")
    except BaseException:
        os.close(fd)
        raise


def secure_sqlite_files(database: Path) -> None:
    """Before SQLite opens ``database``: its folder exists (missing parts made mode 700), the file
    exists with mode 600 (SQLite gives its -wal, -shm and -journal the database's mode), and an
    existing database or side file that is looser is tightened."""
    create_private_dirs(database.parent)
    create_private_file(database)
    for suffix in SQLITE_SIDE_SUFFIXES:
        tighten(database.with_name(database.name + suffix))


def secure_data_dir(data_dir: Path, *, create: bool) -> None:
    """Make the data folder owner-only (mode 700), with everything in it, at process start.

    The folder is shardkit's own: databases and their side files, the SSH host key, ``logs/``
    and ``backups/``. Every folder in it is tightened to at most 700 and every file to at most
    600, symbolic links are not followed. ``create`` makes the folder if it is missing.
    """
    if create:
        create_private_dirs(Path(data_dir))
    elif not Path(data_dir).is_dir():
        return
    data_dir = Path(data_dir).resolve()  # a data folder that is a link: its target
    tighten(data_dir, what="data folder")
    for folder, subfolders, files in os.walk(data_dir):
        for name in subfolders:
            tighten(Path(folder) / name)
        for name in files:
            tighten(Path(folder) / name)
