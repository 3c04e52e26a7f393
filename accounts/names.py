"""Display names that cannot impersonate: no invisible or bidi controls, no lookalikes.

Two names collide when their *keys* are equal. The key is the Unicode TR39 skeleton
(confusables.txt, shipped by the ``confusable-homoglyphs`` package) of the NFKC,
case-folded name, case-folded again, with ``i`` and ``l`` merged (``I``, ``l``, ``1`` and
``|`` all look alike once a name may be written in capitals) and spaces removed. This is
stricter than TR39 on purpose: a name is refused when it is merely *close* to a staff
member's, another user's or a reserved one; the user picks another.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from confusable_homoglyphs.confusables import confusables_data

# Characters a name may never hold: controls, format characters (bidi overrides and
# isolates, zero-width joiners, the BOM), private use, surrogates, unassigned code points,
# and line/paragraph separators.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
MAX_COMBINING_RUN = 2  # more stacked marks than this is "zalgo" text drawn over neighbours

# Names nobody may take, whatever they look like (compared by key).
RESERVED_NAMES = (
    "admin",
    "administrator",
    "staff",
    "support",
    "moderator",
    "system",
    "root",
    "official",
    "security",
    "p2pswap",
    "p2p swap",
    "operator",
)

_LRM = "\u200e"  # the data wraps right-to-left characters in marks for display


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """TR39's source -> prototype map, rebuilt from the package's symmetric data.

    In confusables.txt each source is one code point mapped to one prototype, and no
    prototype is itself a source. So a character with several lookalikes, or whose one
    lookalike is a sequence, is a prototype; of two characters that only look like each
    other, the lower code point stands for both (either choice gives equal keys).
    """
    graph: dict[str, set[str]] = {}
    for key, entries in confusables_data.items():
        node = key.replace(_LRM, "")
        for entry in entries:
            other = entry["c"].replace(_LRM, "")
            if node and other and node != other:
                graph.setdefault(node, set()).add(other)
                graph.setdefault(other, set()).add(node)

    def is_prototype(node: str) -> bool:
        return len(node) > 1 or len(graph.get(node, ())) > 1

    mapping: dict[str, str] = {}
    for node, others in graph.items():
        if len(node) != 1 or is_prototype(node):
            continue
        (target,) = others
        if is_prototype(target) or target < node:
            mapping[node] = target
    return mapping


def skeleton(text: str) -> str:
    """TR39 ``skeleton(X)``: NFD, map each character to its prototype, NFD again."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in decomposed))


def name_key(name: str) -> str:
    """The key two names are compared by (see the module docstring); "" for a blank name."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    key = skeleton(folded).casefold().replace("i", "l")
    return "".join(key.split())


def bad_characters(name: str) -> list[str]:
    """The code points that make ``name`` unacceptable (as ``U+XXXX``), in order."""
    found: list[str] = []
    run = 0
    for ch in name:
        category = unicodedata.category(ch)
        run = run + 1 if category in ("Mn", "Me") else 0
        if category in FORBIDDEN_CATEGORIES or run > MAX_COMBINING_RUN:
            found.append(f"U+{ord(ch):04X}")
    return found


@lru_cache(maxsize=1)
def reserved_keys() -> frozenset[str]:
    return frozenset(name_key(name) for name in RESERVED_NAMES)
