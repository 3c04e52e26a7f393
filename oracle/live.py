"""Live prices: what a published price announces to the ``/ws/prices/`` sockets.

A refresh round's store broadcasts one ``price.update`` per pair to every socket of every web
process. The frame the clients receive is encoded here, once, by the publisher: each socket
forwards the same text instead of encoding it again (issue #15, 500 sockets).
"""

from __future__ import annotations

import json
from typing import Any


def price_frame(price: dict[str, Any]) -> str:
    """The text a socket sends for one price (``Aggregate.as_dict()``): ``{"type": "price",
    "price": ...}``, encoded as the consumer's ``send_json`` would."""
    return json.dumps({"type": "price", "price": price})


def price_update(price: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer event for one price: the price itself (which pair, as of when) and
    its frame, already encoded."""
    return {"type": "price.update", "price": price, "text": price_frame(price)}
