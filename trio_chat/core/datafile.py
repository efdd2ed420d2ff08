"""The history file on disk: where it lives, one server at a time, private to its user.

The file holds password hashes and bans, so it is made for its owner only: its
folder 0700 when we create it, the file 0600 (SQLite gives its ``-wal`` and
``-shm`` files the database file's mode), and a file or folder from before that
others may read gets a warning at start.

One server per file: :func:`prepare` takes an exclusive ``flock`` on
``FILE.lock`` that the store holds for its life (a second server would reuse
sequence numbers and lose messages). The kernel releases it when the process
ends, however it ends, so a crashed server never blocks the next one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from pathlib import Path

LOGGER = logging.getLogger("trio_chat.core.history")

# Files beside the database: SQLite's, and our lock.
COMPANIONS = ("-wal", "-shm", ".lock")


class HistoryError(Exception):
    """The history file cannot be used; ``str(exc)`` says why, for the user."""


class HistoryInUse(HistoryError):
    """Another server holds the history file (its lock file beside it).

    ``str(exc)`` says which file and which process; the command line adds
    how to give this server a file of its own, in the user's dialect.
    """

    def __init__(self, path: str | Path, owner: str) -> None:
        process = f" (process {owner})" if owner.isdecimal() else ""
        super().__init__(
            f"history file {path} is in use by another trio-chat server{process}: "
            "stop that server, or give this one its own file"
        )


def default_path() -> Path:
    """Where history lives unless ``--db`` says otherwise: the user's data directory."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "trio_chat" / "history.sqlite3"


def prepare(path: Path) -> int:
    """Make ``path``'s folder and the file if need be, privately; lock it for this process.

    Returns the lock's file descriptor: closing it releases the lock.

    Raises:
        HistoryInUse: another process holds the file.
        HistoryError: the folder, the file or the lock cannot be made.
    """
    _make_parent(path)
    fd = _lock(path)
    try:
        _create_private(path)
    except BaseException:
        os.close(fd)
        raise
    _warn_if_open(path)
    return fd


def _make_parent(path: Path) -> None:
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise HistoryError(
            f"cannot create the directory for history file {path}: "
            f"{exc.filename or path.parent} is a file, not a directory"
        ) from exc
    except OSError as exc:
        raise HistoryError(
            f"cannot create the directory for history file {path}: {exc.strerror or exc}"
        ) from exc


def _lock(path: Path) -> int:
    """An exclusive flock on ``PATH.lock``, which holds the owner's pid.

    Raises:
        HistoryInUse: another process holds it.
        HistoryError: the lock file cannot be opened or locked.
    """
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise HistoryError(
            f"cannot use history file {path}: cannot open {lock_path}: {exc.strerror or exc}"
        ) from exc
    try:
        _flock(fd)
    except BlockingIOError:
        owner = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        raise HistoryInUse(path, owner) from None
    except OSError as exc:
        os.close(fd)
        raise HistoryError(
            f"cannot use history file {path}: cannot lock {lock_path}: {exc.strerror or exc}"
        ) from exc
    # Only to name the owner in that error: a full disk fails the file itself next.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


if sys.platform == "win32":

    def _flock(fd: int) -> None:
        """No flock on Windows: one server per file is up to the user there."""

else:
    import fcntl

    def _flock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _create_private(path: Path) -> None:
    """Create the file 0600 unless it exists: SQLite would make it 0644 (less the umask)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise HistoryError(f"cannot use history file {path}: {exc.strerror or exc}") from exc


def _warn_if_open(path: Path) -> None:
    """One warning line if the file, its companions or our data folder are open to others."""
    if os.name != "posix":
        return
    files = [path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)]
    open_files = [str(file) for file in files if _open_to_others(file)]
    folder = path.parent
    # Only trio_chat's own folder: a folder the user chose (their home) is theirs.
    open_folder = folder.absolute() == default_path().parent and _open_to_others(folder)
    if not (open_files or open_folder):
        return
    commands = ([f"chmod 700 {folder}"] if open_folder else []) + (
        [f"chmod 600 {' '.join(open_files)}"] if open_files else []
    )
    what = ", ".join(([f"folder {folder}"] if open_folder else []) + open_files)
    LOGGER.warning(
        "history not private: other users can read or change %s, and it holds password "
        "hashes and bans: run %s",
        what,
        " && ".join(commands),
    )


def _open_to_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(stat.S_IMODE(mode) & 0o077)
