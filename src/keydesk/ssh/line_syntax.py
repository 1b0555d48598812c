"""authorized_keys syntax as sshd reads it: lines ended by LF alone, the
options before a key, and the forced command among them. Pure text: no
file, no key parsing."""

from __future__ import annotations


def split_lines(data: bytes) -> list[bytes]:
    """Lines as sshd reads them (ended by LF only), each with its ending, so
    that joining them gives `data` back byte for byte."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def skip_options(text: str) -> tuple[str, str]:
    """(options, rest): as sshd's sshkey_advance_past_options reads them."""
    quoted, index = False, 0
    while index < len(text) and (quoted or text[index] not in " \t"):
        if text[index] == "\\" and text[index + 1 : index + 2] == '"':
            index += 1
        elif text[index] == '"':
            quoted = not quoted
        index += 1
    return text[:index], text[index:].lstrip(" \t")


def _split_options(options: str) -> list[str]:
    result: list[str] = []
    current: list[str] = []
    quoted, index = False, 0
    while index < len(options):
        char = options[index]
        if char == "\\" and options[index + 1 : index + 2] == '"':
            current.append('\\"')
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            result.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    result.append("".join(current))
    return result


def forced_command(options: str) -> str | None:
    for option in _split_options(options):
        name, _, value = option.partition("=")
        if name.lower() == "command" and len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1].replace('\\"', '"')
    return None
