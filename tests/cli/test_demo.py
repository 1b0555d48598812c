"""`keydesk demo` runs on a throwaway store of its own: its help offers no
--db, and --db given anyway is refused with the reason (usage, exit 2)."""

from __future__ import annotations


def test_demo_offers_no_db_and_refuses_one_with_the_reason(cli):
    code, out, _ = cli("demo", "--help")
    assert code == 0 and "--account NAME" in out and "--db" not in out
    code, out, err = cli("demo", "--db", "sqlite:///elsewhere.db")
    assert code == 2 and out == ""
    assert "throwaway store" in err and "keydesk --db PATH" in err
