"""EIP-4361 (Sign-In with Ethereum) messages: build the one we issue, parse what comes back.

Parsing uses the ``siwe`` package's ABNF grammar (strict EIP-4361). Signatures
are checked elsewhere, by ``chains.signatures``; this module never verifies one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from siwe import SiweMessage


class MalformedMessage(ValueError):
    """The text is not a well-formed EIP-4361 message."""


@dataclass(frozen=True)
class ParsedMessage:
    domain: str
    address: str
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None
    not_before: datetime | None


def site_domain() -> str:
    """The RFC 3986 authority (host[:port]) of ``settings.SITE_URL``, never the request's Host."""
    return urlsplit(settings.SITE_URL).netloc


def site_uri() -> str:
    """The URI SIWE messages are bound to: ``settings.SITE_URL`` without a trailing slash."""
    return settings.SITE_URL.rstrip("/")


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_message(
    *, address: str, chain_id: int, nonce: str, issued_at: datetime, expires_at: datetime
) -> str:
    """The complete EIP-4361 message for this site; ``address`` must be EIP-55 checksummed."""
    message = SiweMessage(
        domain=site_domain(),
        address=address,
        statement=settings.SIWE_STATEMENT,
        uri=site_uri(),
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=_iso(issued_at),
        expiration_time=_iso(expires_at),
    )
    return message.prepare_message()


# The cheap shape every EIP-4361 message has, checked before the ABNF grammar (whose
# parser backtracks for seconds on long garbage): a header line naming the domain, then
# the address, each line short, a bounded number of lines.
_HEADER = re.compile(
    r"^\S{1,255} wants you to sign in with your Ethereum account:\n0x[0-9a-fA-F]{40}\n"
)
MAX_MESSAGE_LENGTH = 2048
MAX_LINE_LENGTH = 512
MAX_LINES = 24


def parse_message(text: str) -> ParsedMessage:
    """Parse an EIP-4361 message. Raises ``MalformedMessage`` for anything else."""
    if not isinstance(text, str) or not text or len(text) > MAX_MESSAGE_LENGTH:
        raise MalformedMessage("empty or oversized message")
    lines = text.split("\n")
    if (
        not _HEADER.match(text)
        or len(lines) > MAX_LINES
        or any(len(line) > MAX_LINE_LENGTH for line in lines)
    ):
        raise MalformedMessage("not shaped like an EIP-4361 message")
    try:
        parsed = SiweMessage.from_message(text)
    except Exception as exc:  # the grammar and pydantic raise many types
        raise MalformedMessage(str(exc)[:200]) from exc
    expiration = parsed.expiration_time
    not_before = parsed.not_before
    return ParsedMessage(
        domain=parsed.domain,
        address=str(parsed.address),
        uri=str(parsed.uri),
        version=str(parsed.version),
        chain_id=int(parsed.chain_id),
        nonce=parsed.nonce,
        issued_at=parsed.issued_at._datetime,  # type: ignore[attr-defined]
        expiration_time=expiration._datetime if expiration else None,  # type: ignore[attr-defined]
        not_before=not_before._datetime if not_before else None,  # type: ignore[attr-defined]
    )
