"""The parser's answers to a mistyped command line (keydesk.cli.parser): the
mistake itself is named, with the name meant when one is genuinely close,
on one line, as a usage error of the command typed."""

from __future__ import annotations

import pytest

from keydesk.cli.parser import did_you_mean


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ("key", "create", "--integration", "github", "--lable", "prod"),
            "unrecognized arguments: --lable prod; did you mean '--label'?",
        ),
        (
            ("key", "create", "--intgration", "github", "--label", "prod"),
            "unrecognized arguments: --intgration github; did you mean '--integration'?",
        ),
        (
            ("key", "create", "--integration", "github", "--lable=prod"),
            "unrecognized arguments: --lable=prod; did you mean '--label'?",
        ),
        # nothing close: still the mistake, not the option it left out
        (
            ("key", "create", "--integration", "github", "--bogus", "x"),
            "unrecognized arguments: --bogus x (see: keydesk key create --help)",
        ),
    ],
)
def test_a_mistyped_option_is_named_before_the_required_one_it_left_out(cli, args, named):
    code, out, err = cli(*args)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert named in err and "required" not in err


def test_a_required_option_left_out_is_named_when_nothing_was_mistyped(cli):
    code, _, err = cli("key", "create", "--integration", "github", "prod")  # a stray word
    assert code == 2 and "the following arguments are required: --label" in err


def test_an_option_nothing_like_any_other_gets_no_suggestion(cli):
    code, out, err = cli("scan", "--bogus")
    assert (code, out) == (3, "")  # scan's usage status: it keeps 0-2 for what it found
    assert err == "keydesk: unrecognized arguments: --bogus (see: keydesk scan --help)\n"


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (("integratoin", "list"), "did you mean 'integration'?"),
        (("kye", "list"), "did you mean 'key'?"),  # a swap in three letters
        (("key", "creat"), "did you mean 'create'?"),
        (("key", "list", "--jsn"), "did you mean '--json'?"),
        (("key", "list", "--integraton", "github"), "did you mean '--integration'?"),
    ],
)
def test_a_slip_of_one_letter_is_offered_the_name_meant(cli, args, meant):
    code, out, err = cli(*args)
    assert (code, out) == (2, "") and meant in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("typed", "names", "offered"),
    [
        ("--bogus", ["--verbose", "--json", "--help"], ""),  # the shared dashes are no likeness
        ("--quiet", ["--quota"], ""),  # three letters of five changed
        ("--lable", ["--label", "--json"], "; did you mean '--label'?"),
        ("-jsn", ["--json"], "; did you mean '--json'?"),  # dashes miscounted too
        ("creat", ["create", "list"], "; did you mean 'create'?"),
    ],
)
def test_a_suggestion_is_only_a_close_name(typed, names, offered):
    assert did_you_mean(typed, names) == offered


@pytest.mark.parametrize("command", [("init",), ("key", "create"), ("integration", "add")])
def test_help_shows_required_options_without_brackets(cli, command):
    """`keydesk init --help` printed `[--workspace NAME]`, yet init requires
    it: the reading for mistakes, which requires nothing, printed the help."""
    code, out, _err = cli(*command, "--help")
    usage = " ".join(out.split("\n\n")[0].split())
    assert code == 0 and "[--workspace NAME]" not in usage and "[--label" not in usage, usage
    assert "--workspace NAME" in usage or "--label" in usage or "--name" in usage, usage


@pytest.mark.parametrize("count", ["0", "65"])
def test_serve_refuses_a_worker_count_outside_1_to_64(cli, count):
    """README: `serve --workers N` takes 1-64; anything else is a usage error
    (read by the parser: no server starts)."""
    code, out, err = cli("serve", "--workers", count)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"not a number of workers from 1 to 64: '{count}'" in err
