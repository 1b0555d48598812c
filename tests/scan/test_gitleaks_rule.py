"""contrib/gitleaks.toml: its regex (the subset Go's RE2 and Python's re share)
finds real keys and nothing in random text or in wrongly shaped look-alikes."""

from __future__ import annotations

import math
import random
import re
import string
import tomllib
from collections import Counter
from pathlib import Path

from keydesk.keys import BASE62, generate_key_pair

RULES = Path(__file__).parents[2] / "contrib" / "gitleaks.toml"


def rule() -> dict:
    config = tomllib.loads(RULES.read_text())
    (found,) = [r for r in config["rules"] if r["id"] == "keydesk-private-key"]
    return found


def shannon(text: str) -> float:  # as gitleaks computes `entropy`, bits per character
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_the_rule_says_it_cannot_check_the_checksum():
    assert "checksum" in rule()["description"] and rule()["keywords"] == ["kdsk_"]


def test_the_rule_finds_generated_keys_wherever_they_sit():
    pattern = re.compile(rule()["regex"])
    group = rule()["secretGroup"]
    for n in range(100):
        key = generate_key_pair().private_key.reveal()
        text = [f"KEY={key}\n", f'"Bearer {key}"', f"token%3D{key}&x=1", key][n % 4]
        (match,) = pattern.finditer(text)
        assert match.group(group) == key
        assert shannon(key) > rule()["entropy"]


def test_the_rule_finds_nothing_in_random_text_or_misshapen_lookalikes():
    pattern = re.compile(rule()["regex"])
    rng = random.Random(1013)

    def b62(k: int) -> str:
        return "".join(rng.choices(BASE62, k=k))

    printable = ["".join(rng.choices(string.printable, k=rng.randint(0, 300))) for _ in range(500)]
    misshapen = [
        lambda: f"kdsk_{b62(66)}",  # right length, no separator
        lambda: f"kdsk_{b62(15)}_{b62(50)}",  # separator one early
        lambda: f"kdsk_{b62(17)}_{b62(48)}",  # separator one late
        lambda: f"kdsk_{b62(16)}_{b62(48)}",  # one short
        lambda: f"kdsk_{b62(16)}_{b62(50)}",  # one long: a longer token, not a key
        lambda: f"kdsk-{b62(16)}_{b62(49)}",  # wrong prefix
    ]
    lookalikes = [misshapen[n % len(misshapen)]() for n in range(500)]
    for text in printable + lookalikes:
        assert pattern.search(text) is None, text
