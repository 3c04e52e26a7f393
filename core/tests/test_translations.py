"""Bengali covers every user-facing string (issue 18): each entry of the catalogue has a
translation that is not marked fuzzy. The escrow app's strings are translated by their
owners and are not held here yet."""

from __future__ import annotations

import json
import re
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "bn" / "LC_MESSAGES" / "django.po"
NOT_HELD_YET = "escrow"  # references under escrow/ and templates/escrow/
FIELD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$')


def entries(text: str) -> list[dict]:
    """The catalogue's live entries: references, flags and each msg* field, unquoted."""
    found = []
    for block in text.split("\n\n"):
        entry: dict = {"refs": [], "flags": [], "fields": {}}
        current = None
        for line in block.splitlines():
            if line.startswith("#~"):
                break  # obsolete
            if line.startswith("#:"):
                entry["refs"] += line[2:].split()
            elif line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
            elif match := FIELD.match(line):
                current = match.group(1)
                entry["fields"][current] = json.loads(match.group(2))
            elif line.startswith('"') and current:
                entry["fields"][current] += json.loads(line)
        if entry["fields"].get("msgid"):
            found.append(entry)
    return found


def untranslated(text: str) -> list[str]:
    return [
        entry["fields"]["msgid"]
        for entry in entries(text)
        if not all(NOT_HELD_YET in ref for ref in entry["refs"])
        and (
            "fuzzy" in entry["flags"]
            or any(v == "" for k, v in entry["fields"].items() if k.startswith("msgstr"))
        )
    ]


def test_every_string_has_a_bengali_translation():
    assert untranslated(CATALOGUE.read_text()) == []


def test_the_check_sees_empty_and_fuzzy_entries():
    # given
    text = (
        '#: a.py:1\nmsgid "One"\nmsgstr ""\n\n'
        '#: b.html:2\n#, fuzzy, python-format\nmsgid "Two %(n)s"\nmsgstr "দুই %(n)s"\n\n'
        '#: c.py:3\nmsgid "Three"\nmsgstr "তিন"\n\n'
        '#: escrow/x.py:4\nmsgid "Theirs"\nmsgstr ""\n\n'
        '#~ msgid "Old"\n#~ msgstr ""\n'
    )
    # then
    assert untranslated(text) == ["One", "Two %(n)s"]
