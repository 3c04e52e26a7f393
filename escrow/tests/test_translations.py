"""Bengali for every string of the shop: the catalogue has each one translated (not fuzzy,
not empty), and the compiled catalogue gives it at run time (refusals, notices, states)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from escrow import errors
from escrow.models import Order, Product
from escrow.services import NOTICES

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "bn" / "LC_MESSAGES" / "django.po"
SHOP_SOURCES = ("escrow/", "templates/escrow/")


def _entries() -> list[dict]:
    """Each live entry of the Bengali catalogue: references, flags, context, msgid, msgstrs."""
    found = []
    for block in CATALOGUE.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        if not lines or any(line.startswith("#~") for line in lines):
            continue
        entry: dict = {"refs": [], "flags": "", "msgctxt": [""], "msgid": None, "msgstr": []}
        key = None
        for line in lines:
            if line.startswith("#: "):
                entry["refs"] += line[3:].split()
            elif line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith('"') and key:
                entry[key][-1] += ast.literal_eval(line)
            elif line.startswith("msgctxt "):
                key = "msgctxt"
                entry["msgctxt"] = [ast.literal_eval(line[8:])]
            elif line.startswith(("msgid ", "msgid_plural ", "msgstr")):
                name, _, value = line.partition(" ")
                key = "msgid" if name == "msgid" else ("msgstr" if "msgstr" in name else "plural")
                if key == "msgid":
                    entry["msgid"] = [ast.literal_eval(value)]
                elif key == "msgstr":
                    entry["msgstr"].append(ast.literal_eval(value))
                else:
                    entry.setdefault("plural", []).append(ast.literal_eval(value))
        if entry["msgid"] and entry["msgid"][0]:
            found.append(entry)
    return found


def test_every_shop_string_is_translated_into_bengali():
    # given: the catalogue's entries used by the escrow app or its templates
    shop = [e for e in _entries() if any(r.startswith(SHOP_SOURCES) for r in e["refs"])]
    # then
    assert len(shop) > 150
    missing = [e["msgid"][0] for e in shop if "fuzzy" in e["flags"] or not all(e["msgstr"])]
    assert missing == []


def test_the_catalogue_has_each_message_once():
    ids = [(e["msgctxt"][0], e["msgid"][0], tuple(e.get("plural", ()))) for e in _entries()]
    assert len(ids) == len(set(ids))


def _bengali(text) -> str:
    with translation.override("bn"):
        return str(translation.gettext(str(text)) if isinstance(text, str) else text)


def _english(text) -> str:
    with translation.override("en"):
        return str(text)


@pytest.mark.parametrize(
    "refusal",
    [r for r in vars(errors).values() if isinstance(r, errors.Refusal)],
    ids=lambda r: r.code,
)
def test_each_refusal_reads_in_bengali(refusal):
    assert _bengali(refusal.message) != _english(refusal.message)


def test_states_units_and_notices_read_in_bengali():
    # given
    texts = [
        *Order.State.labels,
        *Product.Unit.labels,
        *Product.Kind.labels,
        *(m for pair in NOTICES.values() for m in pair if m),
    ]
    # then
    untranslated = [t for t in texts if _bengali(t) == _english(t)]
    assert untranslated == []
