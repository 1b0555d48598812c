"""Editing a file sshd trusts: an exclusive lock on its folder, an atomic
replace (temp file, fsync, rename, fsync the folder) that leaves the old
file on any failure, and the ownership and modes sshd's StrictModes needs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from keydesk.ssh.errors import KeyNotAuthorized, SshAccessError


def resolve(path: Path) -> Path:
    """The real file behind a symlinked authorized_keys (edit it, not the link)."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def locked(directory: Path, *, create: bool) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (two admins authorizing at once
    must not lose a line). The directory is made 0700 if keydesk creates it."""
    try:
        if create and not directory.exists():
            _make_private_dir(directory)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise KeyNotAuthorized(f"{directory} does not exist; no key is authorized") from exc
    except OSError as exc:
        raise SshAccessError(f"cannot open {directory}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _make_private_dir(directory: Path) -> None:
    parent = directory.parent
    if not parent.exists():
        raise SshAccessError(f"cannot create {directory}: {parent} does not exist")
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        return  # another admin's authorize made it a moment ago (and owns its mode)
    os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    _give_to(directory, os.stat(parent))


def _give_to(path: Path | int, owner: os.stat_result) -> None:
    """Make `path` owned like `owner` when keydesk runs as root (root editing
    the service account's file must not leave it unreadable to sshd's check
    as that user); a no-op when the owner already matches."""
    current = os.stat(path) if isinstance(path, Path) else os.fstat(path)
    if os.geteuid() == 0 and (current.st_uid, current.st_gid) != (owner.st_uid, owner.st_gid):
        os.chown(path, owner.st_uid, owner.st_gid)  # takes a descriptor too (fchown)


def write_atomically(target: Path, data: bytes) -> None:
    """Replace `target` with `data`: temp file in the same directory, 0600,
    fsync, rename, fsync the directory. On any failure the old file stays."""
    directory = target.parent
    try:
        owner = os.stat(target)
    except FileNotFoundError:
        owner = os.stat(directory)
    except OSError as exc:
        raise SshAccessError(f"cannot update {target}: {exc.strerror}") from exc
    temp: str | None = None
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.keydesk-", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), stat.S_IRUSR | stat.S_IWUSR)
            _give_to(handle.fileno(), owner)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        temp = None
        _fsync_dir(directory)
        _tighten_dir(directory)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise SshAccessError(f"cannot update {target}: {reason}; it was left as it was") from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tighten_dir(directory: Path) -> None:
    """~/.ssh is 0700: sshd's StrictModes refuses a group- or world-writable one."""
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    if directory.name == ".ssh" and mode != 0o700:
        os.chmod(directory, 0o700)
