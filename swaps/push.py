"""Web Push for swap notifications: VAPID (RFC 8292) signed, payload encrypted for the
browser (RFC 8291, aes128gcm) by pywebpush. A browser subscribes through the Push API and
its vendor's push service (``static/js/push.js``, ``static/sw.js``); the server sends to the
endpoint it was given.

Settings (read with defaults until they are in ``config/settings``):
``WEBPUSH_VAPID_PRIVATE_KEY`` (PEM, or the raw 32-byte key in base64url; empty: push off),
``WEBPUSH_SUBJECT`` (the contact VAPID requires; default ``mailto:`` + DEFAULT_FROM_EMAIL's
address, else SITE_URL), ``WEBPUSH_TTL_SECONDS`` (how long a push service keeps an
undelivered message; 3600).
"""

from __future__ import annotations

import base64
import functools
import json
from email.utils import parseaddr

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_key_setting() -> str:
    return settings.WEBPUSH_VAPID_PRIVATE_KEY.strip()


def enabled() -> bool:
    return bool(private_key_setting())


@functools.cache
def _private_key(text: str) -> ec.EllipticCurvePrivateKey:
    if "BEGIN" in text:
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("WEBPUSH_VAPID_PRIVATE_KEY must be a P-256 key")
        return key
    return ec.derive_private_key(int.from_bytes(_unb64url(text), "big"), ec.SECP256R1())


def public_key() -> str:
    """The VAPID public key as browsers take it (``applicationServerKey``: the uncompressed
    P-256 point, base64url), or "" when push is off."""
    if not enabled():
        return ""
    point = (
        _private_key(private_key_setting())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point)


def subject() -> str:
    configured = settings.WEBPUSH_SUBJECT
    if configured:
        return configured
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return f"mailto:{address}" if "@" in address else settings.SITE_URL


class Gone(Exception):
    """The push service says the subscription no longer exists (404 or 410)."""


def send(*, endpoint: str, p256dh: str, auth: str, payload: dict) -> int:
    """Encrypt `payload` (JSON) for one subscription and POST it to its endpoint, signed
    with the VAPID key. Returns the push service's status. Raises ``Gone`` for a
    subscription the service dropped, ``OSError`` when it cannot be reached or answers with
    another error (the task retries)."""
    from py_vapid import Vapid02
    from pywebpush import WebPushException, webpush

    vapid = Vapid02(private_key=_private_key(private_key_setting()))
    try:
        response = webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload),
            vapid_private_key=vapid,
            vapid_claims={"sub": subject()},
            ttl=settings.WEBPUSH_TTL_SECONDS,
            timeout=10,
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):
            raise Gone(endpoint) from exc
        raise OSError(f"push service refused: {status}") from exc
    return int(response.status_code)
