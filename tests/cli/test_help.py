"""keydesk.cli.parser and the command groups' help: every option says what
it is, --account's "only for keydesk demo" is said once (in `keydesk --help`
and `demo`'s) instead of in every command's help, and a PUBLIC_KEY not of
its form is a usage error (2), not "not found"."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from keydesk.cli import GROUPS
from keydesk.cli.parser import build_parser

ACCOUNT_HELP = "only for `keydesk demo`"
# Groups whose every option and argument has help (the key group's own
# commands, keydesk.cli.keys, are not yet all of them).
FULLY_HELPED = {
    "init", "workspace", "member", "integration", "audit", "notify", "serve", "ssh",
    "completion", "demo", "scan", "store", "postgres",
}  # fmt: skip


def _commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command people may run (not sshd's internal one), by its words."""

    def walk(parser: argparse.ArgumentParser, words: list[str]):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if not getattr(sub, "internal", False):
                        yield " ".join([*words, name]), sub
                        yield from walk(sub, [*words, name])

    yield from walk(build_parser(*GROUPS), [])


def _unexplained(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if action.help is None and not isinstance(action, argparse._SubParsersAction)
    ]


def test_workspace_name_and_provider_say_what_they_are_in_every_command():
    unexplained = [
        (words, option)
        for words, parser in _commands()
        for option in _unexplained(parser)
        if option in ("--workspace", "--name", "--provider")
    ]
    assert not unexplained, unexplained


@pytest.mark.parametrize(
    ("words", "parser"),
    [(w, p) for w, p in _commands() if w.split()[0] in FULLY_HELPED],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_option_and_argument_has_help(words, parser):
    assert not _unexplained(parser), words


def test_the_account_option_is_explained_once_where_it_applies():
    root = build_parser(*GROUPS)
    assert ACCOUNT_HELP in root.format_help()
    repeated = [words for words, parser in _commands() if ACCOUNT_HELP in parser.format_help()]
    assert repeated == ["demo"], repeated


def test_a_typed_account_is_still_refused_with_its_reason(cli):
    code, _, err = cli("integration", "list", "--account", "bob", actor=None)
    assert code == 1 and "--account is only for keydesk demo" in err, err


@pytest.mark.parametrize(
    "args",
    [
        ("key", "edit", "kdpk_nope", "--tag", "team=x"),
        ("audit", "--key", "kdpk_nope"),
    ],
)
def test_a_malformed_public_key_is_a_usage_error(cli, args):
    code, out, err = cli(*args)
    assert (code, out) == (2, "") and "not a public key: 'kdpk_nope'" in err, err
    assert err.count("\n") == 1


def test_a_private_key_given_as_a_public_one_is_redacted_in_the_usage_error(cli):
    private = "kdsk_abcdefghijklmnop_" + "s" * 43
    code, _, err = cli("key", "edit", private, "--tag", "team=x")
    assert code == 2 and private not in err and "s" * 20 not in err, err
