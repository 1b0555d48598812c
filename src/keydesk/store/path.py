"""Which file a SQLite store really is, and whether it is safe to open: the
one check every way of opening a store runs (the CLI, the TUI, `serve`,
`verify`, scan, the bare queries of keydesk.store.sqlite_file, and the
verifier under the ASGI middleware).

The file is the real one, every symlink followed (each link, and the folder
it lies in, checked as well), and it is opened by that real path. As
OpenSSH's StrictModes does for ~/.ssh, the file, its
-wal/-shm/-journal and every folder from / down to it must belong to you
(or, for folders, root), and none may be writable by anyone else: otherwise
another user could read the store, or replace it or its -wal (a revoked
key made valid again). The one exception is a folder on the way, not the
store's own, that is root's and sticky, as /tmp is: others can add entries
there but not rename or delete yours. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from keydesk.errors import StoreNotFound, StoreUnavailable, UnsafeStore

# The files SQLite keeps beside the database; each holds the store's data.
COMPANIONS = ("-wal", "-shm", "-journal")
_SQLITE_HEADER = b"SQLite format 3\x00"
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def checked_store_path(named: str | os.PathLike[str]) -> Path:
    """The real path of the SQLite store named `named` (~ expanded, relative
    to the current folder, every symlink followed), once it is safe to open:
    `UnsafeStore` when others could read or replace it, `StoreUnavailable`
    when it cannot be read; one line each, with the fix. A store that does
    not exist yet passes when the folders that do are safe (`keydesk init`
    makes the missing ones, owner-only). Open the store by the path returned."""
    text = os.fspath(named)
    refuse_unnamable(text)
    given = absolute(text)
    walk = _resolve(given)
    if not walk.exists and os.path.lexists(walk.real):  # made meanwhile: judge it as it is
        walk = _resolve(given)
        if not walk.exists:  # never open unchecked a file that is there
            raise UnsafeStore(f"refusing to open {given}: its path changed while it was checked")
    real = Path(walk.real)
    shown = walk.real if walk.real == os.path.normpath(given) else f"{real} (where {given} leads)"
    me = os.geteuid()
    for link, owner in walk.links:  # its owner may replace it, in a sticky folder
        if owner not in (me, 0):
            raise UnsafeStore(
                f"refusing to open {shown}: the symlink {link} on its way belongs to "
                f"{user_name(owner)}, who could point it elsewhere; name the store by its real path"
            )
    for folder in walk.folders:
        _check_folder(Path(folder), shown, own=Path(folder) == real.parent)
    if walk.exists:
        _check_files(real, shown)
    return real


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # RFC 3986's scheme, then its colon


def refuse_unnamable(text: str) -> None:
    """A name no store file has: a SQLite URI file name (which could open
    another file than the one checked), or a NUL (a `%00` in a URL)."""
    if text.startswith("file:"):
        raise StoreUnavailable(
            f"a SQLite URI file name is not accepted ({text}): name the store's file, "
            "as sqlite:////path/to/keydesk.db or a plain path, so keydesk can check it"
        )
    scheme = _SCHEME.match(text)
    if scheme and not os.path.lexists(text):  # `FILE:/x.db` would make ./FILE:/x.db
        raise StoreUnavailable(
            f"{text} starts like a URL ({scheme.group()}) but names no file here: give a URL "
            f"with ://, or write ./{text} for a file of that name"
        )
    if "\0" in text:
        raise StoreUnavailable(
            f"the store's path {text!r} contains a NUL character (%00 in a URL?), "
            "which no file name has"
        )


def absolute(path: str) -> str:
    """`path` (~ expanded) from /, its `..` kept: os.path.abspath drops
    `x/..` by name, where the kernel needs x to be a folder that exists."""
    return os.path.join(os.getcwd(), os.path.expanduser(path))


@dataclass
class _Walk:
    real: str
    exists: bool = True
    is_dir: bool = True  # whether `real`, if it exists, is a folder
    folders: dict[str, None] = field(default_factory=dict)  # each looked in, in order
    links: list[tuple[str, int]] = field(default_factory=list)  # each followed, its owner


_MAX_LINKS = 40  # as the kernel's ELOOP


def _resolve(given: str) -> _Walk:
    """os.path.realpath done by hand, to know every folder a name was looked
    up in and every symlink followed: another user who may change any of
    those could lead the path elsewhere, whatever the real file's folders."""
    walk = _Walk("/")
    pending = given.split("/")[::-1]  # a stack: the next name last
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            # The kernel goes back only from a folder that exists; SQLite
            # resolves names itself and drops the last one whatever it is, so
            # `nothere/../evil.db` opens evil.db, unchecked, were it skipped.
            if not walk.exists or not walk.is_dir:
                raise StoreNotFound(
                    f"no keydesk store at {given}: it goes back with '..' from "
                    f"{walk.real}, which {'is not a folder' if walk.exists else 'does not exist'};"
                    " name the store's file without it"
                )
            walk.real = os.path.dirname(walk.real)
            continue
        candidate = os.path.join(walk.real, name)
        if not walk.exists:  # below a missing folder: `keydesk init` makes the rest
            walk.real = candidate
            continue
        walk.folders[walk.real] = None
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            walk.exists, walk.real = False, candidate
            continue
        except OSError as exc:
            raise _unreadable(given, Path(candidate), exc) from None
        if not stat.S_ISLNK(info.st_mode):
            walk.real, walk.is_dir = candidate, stat.S_ISDIR(info.st_mode)
            continue
        walk.links.append((candidate, info.st_uid))
        if len(walk.links) > _MAX_LINKS:
            raise StoreUnavailable(f"cannot read the store at {given}: too many symlinks")
        target = os.readlink(candidate)
        if target.startswith("/"):
            walk.real, walk.is_dir = "/", True
        pending.extend(target.split("/")[::-1])
    return walk


def _unreadable(given: str, path: Path, exc: OSError) -> StoreUnavailable:
    """A folder on the way that cannot be entered is said as such, never as
    "no store"."""
    if isinstance(exc, PermissionError):
        return StoreUnavailable(f"cannot read the store at {given}: {_why_denied(path)}")
    if isinstance(exc, NotADirectoryError):
        return StoreNotFound(f"no keydesk store at {given}: a part of the path is not a folder")
    return StoreUnavailable(f"cannot read the store at {given}: {exc.strerror}")


def _why_denied(real: Path) -> str:
    for folder in reversed(real.parents):
        if not _may(folder, os.X_OK):
            owner = _owner_of(folder)
            fix = (
                f"run keydesk as its owner (sudo -u {owner} keydesk …)"
                if owner != user_name(os.geteuid())
                else f"fix: chmod u+x {folder}"
            )
            return (
                f"permission denied (you may not enter {folder}, which belongs to {owner}); {fix}"
            )
    return "permission denied"


def _may(path: Path, mode: int) -> bool:
    """Whether this process (its effective ids, as sudo -u sets them) may."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _owner_of(path: Path) -> str:
    try:
        return user_name(os.stat(path).st_uid)
    except OSError:
        return "another user"


def _check_folder(folder: Path, shown: str, *, own: bool) -> None:
    """A folder the path goes through: yours or root's, and writable by no
    one else; root's sticky folders (/tmp) pass on the way, not as the
    store's own (others could add a -wal beside it)."""
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise StoreUnavailable(f"cannot read the store at {shown}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):  # replaced since it was looked in
        raise UnsafeStore(f"refusing to open {shown}: {folder} changed while it was checked")
    where = "its folder" if own else "the folder on its way"
    if info.st_uid not in (os.geteuid(), 0):
        owner = user_name(info.st_uid)
        raise UnsafeStore(
            f"refusing to open {shown}: {where} {folder} belongs to {owner}, who could "
            f"replace the store; run keydesk as its owner (sudo -u {owner} keydesk …), "
            "or move the store to a folder of your own"
        )
    loose = info.st_mode & _WRITABLE_BY_OTHERS
    if not loose or (not own and info.st_mode & stat.S_ISVTX and info.st_uid == 0):
        return
    whom = "g" * bool(loose & stat.S_IWGRP) + "o" * bool(loose & stat.S_IWOTH)
    fix = (
        "move it to a folder of your own (mkdir -m 700 …)"
        if own and info.st_mode & stat.S_ISVTX
        else f"fix: chmod {whom}-w {folder}"
    )
    raise UnsafeStore(
        f"refusing to open {shown}: {where} {folder} is writable by "
        f"{'its group' if whom == 'g' else 'other users'} "
        f"(mode {stat.S_IMODE(info.st_mode):04o}), who could replace the store; {fix}"
    )


def _check_files(real: Path, shown: str) -> None:
    """The file and its -wal/-shm/-journal: yours, owner-only, not symlinks;
    and the file readable. Only stat and access: a process must not open
    and close a file SQLite holds (POSIX drops all of the process's locks
    on it, and another process's SQLite would then delete the -wal)."""
    me = os.geteuid()
    loose: list[tuple[Path, int]] = []
    for file in (real, *(Path(f"{real}{suffix}") for suffix in COMPANIONS)):
        try:
            info = os.lstat(file)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {file}: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):  # SQLite would follow it, out of the checked folder
            raise UnsafeStore(
                f"refusing to open {shown}: {file} is a symlink, which could take the store's "
                f"data elsewhere; fix: put the file it leads to in its place (mv … {file})"
            )
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):  # a FIFO would hang
            raise StoreUnavailable(
                f"refusing to open {shown}: {file} is not a regular file (a FIFO, socket or "
                "device); name the store's own file"
            )
        if info.st_uid != me and _may_be_a_store(real):
            owner, you = user_name(info.st_uid), user_name(me)
            raise UnsafeStore(
                f"refusing to open {file}: it belongs to {owner}, not to you ({you}); "
                f"run keydesk as its owner (sudo -u {owner} keydesk …), or if it is yours: "
                f"chown {you} {file}"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            loose.append((file, stat.S_IMODE(info.st_mode)))
    if loose and _may_be_a_store(real):
        raise UnsafeStore(
            f"refusing to open {loose[0][0]}: its mode {loose[0][1]:04o} lets other users read "
            f"or change the store; fix: chmod 600 {' '.join(str(file) for file, _ in loose)}"
        )
    if not _may(real, os.R_OK):
        mode = stat.S_IMODE(os.stat(real).st_mode)
        raise StoreUnavailable(
            f"cannot read the store at {shown}: permission denied (mode {mode:04o}); "
            f"fix: chmod 600 {real}"
        )


def _may_be_a_store(real: Path) -> bool:
    """A SQLite database, an empty file SQLite would make one in, or a file
    that cannot be read: what the checks protect. Any other file is left to
    SQLite to call "not a database", with no advice on modes. Read only on
    the way to a refusal (see _check_files)."""
    try:
        with real.open("rb") as file:
            return file.read(len(_SQLITE_HEADER)) in (b"", _SQLITE_HEADER)
    except OSError:
        return True


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


# -- making a new store -------------------------------------------------------------


FileId = tuple[int, int] | None  # (device, inode); None when there is no file


def file_id(path: str | Path) -> FileId:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


@dataclass
class Made:
    """What this process made for a new store, so that a refusal after it
    (a failed migration, a refused `init`) takes away exactly that."""

    folders: list[Path] = field(default_factory=list)
    file: tuple[Path, FileId] | None = None
    companions_before: frozenset[str] = frozenset()

    def remove(self) -> None:
        """Delete the file (if it is still the one made here), the
        -wal/-shm/-journal that came with it, and the folders made (if empty)."""
        if self.file is not None and file_id(self.file[0]) == self.file[1]:
            path = self.file[0]
            for suffix in COMPANIONS:
                if suffix not in self.companions_before:
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        for folder in reversed(self.folders):
            try:
                folder.rmdir()
            except OSError:
                break  # something else is in it now: not ours to take away
        self.file, self.folders = None, []


def create_private_file(real: Path) -> Made:
    """Create the store's file owner-only before SQLite does (SQLite gives
    its -wal and -shm the database file's mode), in folders made 0700.
    `real` has passed `checked_store_path`. Returns what was made."""
    made = Made()
    try:
        made.folders = make_private_folders(real.parent)
    except OSError as exc:  # e.g. a part of the path is a file
        reason = (
            "a part of the path is not a folder"
            if isinstance(exc, FileExistsError | NotADirectoryError)
            else exc.strerror
        )
        raise StoreUnavailable(f"cannot create the store at {real}: {reason}") from None
    try:
        fd = os.open(real, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return made  # made meanwhile: the check that follows judges it
    except OSError as exc:
        made.remove()
        raise StoreUnavailable(f"cannot create the store at {real}: {exc.strerror}") from None
    try:
        made.companions_before = frozenset(
            suffix for suffix in COMPANIONS if os.path.lexists(f"{real}{suffix}")
        )
        made.file = (real, (os.fstat(fd).st_dev, os.fstat(fd).st_ino))
        os.fchmod(fd, 0o600)  # the umask may have taken the owner's own bits
    finally:
        os.close(fd)
    return made


def make_private_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents, each 0700 whatever the umask.
    (`mkdir -p` gives the parents the umask's mode: ~/.local would be 0777
    under umask 000.) Folders that exist are left as they are. Returns the
    folders made, outermost first. Raises OSError (NotADirectoryError when
    a part of the path is a file)."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    made: list[Path] = []
    for each in reversed(missing):
        try:
            os.mkdir(each, 0o700)  # umask can only take bits away: never wider than 0700
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        made.append(each)
        os.chmod(each, 0o700)
    return made
