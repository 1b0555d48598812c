"""Tab completion in a real bash: the script `keydesk completion bash`
prints is sourced, and bash's completion function runs the real `keydesk`
console script, as it does on Tab. Commands, options, and from the store
integration names, workspace names and public keys; never a secret, never
a store made, never a hang."""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from keydesk.cli import main
from keydesk.identity import os_account

BASH = shutil.which("bash")
KEYDESK = Path(sys.executable).with_name("keydesk")
pytestmark = pytest.mark.skipif(
    BASH is None or not KEYDESK.exists(), reason="needs bash and the keydesk console script"
)
HANG_GUARD = 30  # seconds: a completion that never returns fails here, not the suite


@functools.cache
def bash_script() -> str:
    """What `keydesk completion bash` prints: the same every time, so asked
    once per worker, not once per Tab (a `keydesk` process each)."""
    return subprocess.run(
        [KEYDESK, "completion", "bash"], capture_output=True, text=True, check=True
    ).stdout


def tab(line: str, db: str | os.PathLike[str] | None = None, **env: str) -> list[str]:
    """What bash offers on Tab at the end of `line` (COMPREPLY), through the
    function `keydesk completion bash` registered."""
    script = bash_script()
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    driver = (
        f"{script}\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; COMP_TYPE=9\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_python_argcomplete keydesk\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("KEYDESK_", "_ARC"))}
    environ["PATH"] = f"{KEYDESK.parent}{os.pathsep}{environ.get('PATH', '')}"
    if db is not None:
        environ["KEYDESK_DATABASE_URL"] = str(db)
    done = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", driver],
        capture_output=True, text=True, timeout=HANG_GUARD, env={**environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [word.strip() for word in done.stdout.splitlines() if word.strip()]


def copy_store(source: Path, target: Path) -> Path:
    """A whole copy (its WAL included), as the store's owner only may read it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    target.chmod(0o600)
    return target


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict[str, object]:
    """acme (github, stripe) and beta (gitlab), of the OS user, as completion
    reads the store; one key revoked. Returns the path and the keys."""
    folder = tmp_path_factory.mktemp("completion")
    folder.chmod(0o700)
    db = folder / "k.db"
    me = os_account()

    def run(*args: str) -> str:
        from io import StringIO
        from unittest import mock

        out = StringIO()
        with mock.patch("sys.stdout", out):
            assert main(["--db", str(db), *args], actor=me) == 0
        return out.getvalue()

    run("init", "--workspace", "acme")
    run("init", "--workspace", "beta")
    for workspace, name in (("acme", "github"), ("acme", "stripe"), ("beta", "gitlab")):
        run("integration", "add", "--workspace", workspace, "--name", name, "--provider", "P",
            "--client-id", "c", "--redirect-uri", "https://a.example.com/cb", "--configure")  # fmt: skip
    created = [
        json.loads(run("key", "create", "--integration", "github", "--label", f"k{n}", "--json"))
        for n in range(3)
    ]
    run("key", "revoke", created[2]["public_key"], "--yes")
    return {
        "db": db,
        "live": [k["public_key"] for k in created[:2]],
        "revoked": created[2]["public_key"],
        "secrets": [k["api_key"] for k in created],
    }


def test_commands_without_the_internal_one():
    offered = tab("keydesk ")
    assert {"key", "integration", "workspace", "scan", "completion"} <= set(offered)
    assert "ssh-session" not in offered
    assert tab("keydesk integ") == ["integration"]
    assert tab("keydesk ss") == ["ssh"]  # never ssh-session


def test_subcommands_and_options():
    assert tab("keydesk key r") == ["rotate", "revoke"]
    assert tab("keydesk key list --int") == ["--integration"]
    assert set(tab("keydesk completion ")) >= {"bash", "zsh", "fish"}


def test_integration_and_workspace_names_from_the_store(store):
    assert set(tab("keydesk key list --integration ", store["db"])) == {
        "github",
        "stripe",
        "gitlab",
    }
    assert tab("keydesk key list --integration st", store["db"]) == ["stripe"]
    assert tab("keydesk integration configure git", store["db"]) == ["github", "gitlab"]
    assert tab("keydesk key list --workspace beta --integration ", store["db"]) == ["gitlab"]
    assert tab("keydesk audit --workspace ", store["db"]) == ["acme", "beta"]


def test_the_store_named_on_the_line_is_the_one_read(store, tmp_path):
    line = f"keydesk --db {store['db']} key list --integration str"
    assert tab(line, db=tmp_path / "elsewhere.db") == ["stripe"]


def test_public_keys_active_only_where_only_an_active_one_will_do(store):
    live, revoked = store["live"], store["revoked"]
    offered = tab("keydesk key revoke kdpk_", store["db"])
    assert sorted(offered) == sorted(live)
    assert sorted(tab("keydesk key usage kdpk_", store["db"])) == sorted([*live, revoked])
    assert tab(f"keydesk key rotate {live[0][:-2]}", store["db"]) == [live[0]]


def test_never_a_secret(store):
    """Every completion of the store, and the store's rows rewritten by SQL
    to hold a private key as a name or a public key: none is ever offered."""
    secret = store["secrets"][0]
    hostile = copy_store(store["db"], store["db"].parent / "hostile.db")
    with sqlite3.connect(hostile) as connection:
        connection.execute("UPDATE integration SET name = ? WHERE name = 'stripe'", (secret,))
        connection.execute(
            "UPDATE api_key SET public_key = ? WHERE public_key = ?", (secret, store["live"][1])
        )
        connection.execute("UPDATE workspace SET name = 'be\x1b[2Jta' WHERE name = 'beta'")
    for db in (store["db"], hostile):
        for line in ("keydesk key revoke ", "keydesk key usage kdpk_", "keydesk key list --integration ",
                     "keydesk key list --workspace ", "keydesk key list --integration kdsk"):  # fmt: skip
            offered = "\n".join(tab(line, db))
            assert not any(s in offered for s in store["secrets"]), line
            assert "kdsk_" not in offered and "\x1b" not in offered, line
    assert tab("keydesk key list --integration ", hostile) == ["github", "gitlab"]


def test_nothing_of_a_workspace_the_user_is_not_a_member_of(store, tmp_path):
    """README: completion reads with the same permissions as `keydesk key list`:
    another account's workspace, integration and key are never offered."""
    from keydesk.service import KeyService
    from keydesk.store.engine import open_store

    db = copy_store(store["db"], tmp_path / "shared.db")
    opened = open_store(f"sqlite:///{db}")
    try:
        mallory = KeyService(opened, "mallory")
        mallory.create_workspace("gamma")
        mallory.add_integration(
            "gamma", "hidden", "P", client_id="c", redirect_uri="https://a.example.com/cb",
            configure=True,
        )  # fmt: skip
        theirs = mallory.create_key("hidden", "theirs").key.public_key
    finally:
        opened.dispose()
    assert tab("keydesk audit --workspace ", db) == ["acme", "beta"]
    assert set(tab("keydesk key list --integration ", db)) == {"github", "stripe", "gitlab"}
    offered = tab("keydesk key usage kdpk_", db)
    assert theirs not in offered
    assert sorted(offered) == sorted([*store["live"], store["revoked"]])


def test_no_store_completes_nothing_and_none_is_made(tmp_path):
    missing = tmp_path / "no" / "such.db"
    assert [word for word in tab("keydesk key revoke ", missing) if word[0] != "-"] == []
    assert tab("keydesk key list --integration ", missing) == []
    assert not missing.parent.exists()
    empty_home = tmp_path / "home"  # the default store, under a home with none
    empty_home.mkdir()
    assert tab("keydesk key list --workspace ", None, HOME=str(empty_home)) == []
    assert list(empty_home.iterdir()) == []


def test_a_locked_store_completes_nothing_and_does_not_hang(store, tmp_path):
    locked = copy_store(store["db"], tmp_path / "locked.db")
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert tab("keydesk key list --integration ", locked) == []
    finally:
        holder.close()
    assert tab("keydesk key list --integration st", locked) == ["stripe"]  # free again


def test_an_unsafe_or_postgresql_store_completes_nothing(store, tmp_path):
    open_to_all = copy_store(store["db"], tmp_path / "open.db")
    open_to_all.chmod(0o666)
    assert tab("keydesk key list --integration ", open_to_all) == []
    fifo = tmp_path / "fifo.db"  # opening it would wait for a writer for ever
    os.mkfifo(fifo, 0o600)
    assert tab("keydesk key list --integration ", fifo) == []
    # An unroutable server: completion never connects, so it cannot wait on it.
    assert tab("keydesk key list --integration ", "postgresql://u@192.0.2.1:5432/k") == []


def test_a_command_with_arguments_never_answers_a_completion_request(tmp_path):
    """sshd runs `keydesk ssh-session ACCOUNT FP` with whatever environment
    the client's SendEnv passed: a completion request there would read the
    store as the service account."""
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "keydesk key list --integration ",
           "COMP_POINT": "30", "SSH_CONNECTION": "x"}  # fmt: skip
    done = subprocess.run(
        [KEYDESK, "ssh-session", "alice", "SHA256:x"], capture_output=True, text=True,
        env=env, timeout=HANG_GUARD, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode != 0 and done.stderr.startswith("keydesk: ")


def test_completion_loads_no_sqlalchemy(store):
    """The store is read on the bare path (keydesk.store.queries), as `key list`."""
    code = (
        "import os, sys\n"
        "real = os._exit\n"
        "def leave(status):\n"
        "    print('\\n'.join(sys.modules), file=sys.stderr); sys.stderr.flush(); real(status)\n"
        "os._exit = leave\n"
        "from keydesk.cli import main\n"
        "main([])\n"
    )
    line = "keydesk key list --integration "
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": os.devnull, "KEYDESK_DATABASE_URL": str(store["db"])}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=HANG_GUARD
    )
    modules = set(done.stderr.splitlines())
    assert "keydesk.store.queries" in modules  # the store was read
    assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "textual")}


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete "), ("zsh", "compdef"),
                                               ("fish", "complete ")])  # fmt: skip
def test_each_shell_gets_a_script(shell, marker):
    done = subprocess.run([KEYDESK, "completion", shell], capture_output=True, text=True)
    assert done.returncode == 0 and marker in done.stdout and "keydesk" in done.stdout
    checker = shutil.which(shell)
    if checker:  # a syntax check where the shell is installed
        flag = "--no-execute" if shell == "fish" else "-n"
        checked = subprocess.run([checker, flag], input=done.stdout, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_an_unknown_shell_is_a_usage_error():
    done = subprocess.run([KEYDESK, "completion", "tcsh"], capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice: 'tcsh'" in done.stderr


def test_each_command_is_built_from_the_group_that_registers_it():
    """A Tab builds only the group its line names (keydesk.cli.GROUP_OF)."""
    from keydesk.cli import GROUP_OF, GROUPS
    from keydesk.cli.parser import build_parser

    registered = {}
    for group in GROUPS:
        (commands,) = [a for a in build_parser(group)._actions if isinstance(a.choices, dict)]
        registered |= dict.fromkeys(commands.choices, group)
    assert registered == GROUP_OF


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_in_a_real_fish(store, tmp_path):
    """fish completes a line without a terminal (`complete --do-complete`),
    through the function `keydesk completion fish` defined."""
    script = tmp_path / "keydesk.fish"
    script.write_text(subprocess.run([KEYDESK, "completion", "fish"], capture_output=True,
                                     text=True, check=True).stdout)  # fmt: skip

    def fish_tab(line: str) -> list[str]:
        command = f"source {shlex.quote(str(script))}; complete --do-complete {shlex.quote(line)}"
        env = {**os.environ, "KEYDESK_DATABASE_URL": str(store["db"]),
               "PATH": f"{KEYDESK.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
        done = subprocess.run(["fish", "--no-config", "-c", command], capture_output=True,
                              text=True, env=env, timeout=HANG_GUARD)  # fmt: skip
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert fish_tab("keydesk key r") == ["revoke", "rotate"]
    assert "ssh-session" not in fish_tab("keydesk ")
    assert fish_tab("keydesk key list --integration g") == ["github", "gitlab"]
    assert sorted(fish_tab("keydesk key revoke kdpk_")) == sorted(store["live"])


# The words zsh's completion system offers, caught where every completion
# function hands them over (compadd), from an interactive `zsh -f` that
# zpty gives a terminal: typing Tab runs the function `compdef` registered.
ZSH_CAPTURE = r"""
PS1='' RPS1='' PROMPT_EOL_MARK=''
# The dump that the first Tab writes, as a user's ~/.zcompdump: without one,
# each compinit read every function on $fpath (~0.6 s of CPU a Tab).
autoload -Uz compinit && compinit -u -d "$ZCOMPDUMP"
eval "$(<$COMPLETION_SCRIPT)"
compadd() {
  # -O/-A/-D: a completion function collecting matches for itself, not offering them
  # (joined with spaces: the script's IFS is \013)
  if [[ "${(j: :)@[1,(i)(-|--)]}" == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __hits
  builtin compadd -A __hits "$@"  # the words compadd would offer for this prefix
  (( $#__hits )) && print -rl -- $__hits >> $CAPTURED
  builtin compadd "$@"
}
comppostfuncs=(exit)  # one Tab, then the shell ends
bindkey '^I' complete-word
print READY
"""
ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "source ${(q)1}"
zpty -r z out '*READY*' || exit 3
zpty -w -n z "$2"$'\t'
while zpty -r z out; do :; done
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_in_a_real_zsh(store, tmp_path):
    """zsh completes a line typed in an interactive shell, through the
    function `keydesk completion zsh` registered with compdef."""
    script = tmp_path / "keydesk.zsh"
    script.write_text(subprocess.run([KEYDESK, "completion", "zsh"], capture_output=True,
                                     text=True, check=True).stdout)  # fmt: skip
    capture = tmp_path / "capture.zsh"
    capture.write_text(ZSH_CAPTURE)

    def zsh_tab(line: str) -> list[str]:
        captured = tmp_path / "captured"
        captured.write_text("")
        env = {**os.environ, "KEYDESK_DATABASE_URL": str(store["db"]),
               "COMPLETION_SCRIPT": str(script), "CAPTURED": str(captured),
               "ZCOMPDUMP": str(tmp_path / "zcompdump"),
               "PATH": f"{KEYDESK.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
        done = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", str(capture), line],
                              capture_output=True, text=True, env=env, timeout=HANG_GUARD)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return captured.read_text().split()

    assert sorted(zsh_tab("keydesk key r")) == ["revoke", "rotate"]
    assert "key" in zsh_tab("keydesk ") and "ssh-session" not in zsh_tab("keydesk ")
    assert zsh_tab("keydesk ss") == ["ssh"]
    assert sorted(zsh_tab("keydesk key list --integration g")) == ["github", "gitlab"]
    assert sorted(zsh_tab("keydesk key revoke kdpk_")) == sorted(store["live"])
