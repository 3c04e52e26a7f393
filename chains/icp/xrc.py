"""The Exchange Rate Canister's API (rates), over the anonymous ``Agent``.

The canister asked is ``settings.ORACLE_ICP_XRC_CANISTER_ID`` unless the caller
names another (an XRC-compatible proxy, a test double).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, DecimalException, Inexact, Rounded
from typing import Any

from django.conf import settings
from ic.candid import Types, encode

from chains.icp.agent import Agent, IcpError, IcpInvalidArgument, IcpProtocolError

ASSET_CLASSES = ("Cryptocurrency", "FiatCurrency")

# Order as declared in the XRC's xrc.did; used for the candid type and for callers.
RATE_ERROR_KINDS = (
    "AnonymousPrincipalNotAllowed",
    "Pending",
    "CryptoBaseAssetNotFound",
    "CryptoQuoteAssetNotFound",
    "StablecoinRateNotFound",
    "StablecoinRateTooFewRates",
    "StablecoinRateZeroRate",
    "ForexInvalidTimestamp",
    "ForexBaseAssetNotFound",
    "ForexQuoteAssetNotFound",
    "ForexAssetsNotFound",
    "RateLimited",
    "NotEnoughCycles",
    "FailedToAcceptCycles",
    "InconsistentRatesReceived",
    "Other",
)
# Conditions that clear with time (a fetch in flight, the XRC's own rate limit).
_TRANSIENT_RATE_ERRORS = frozenset({"Pending", "RateLimited"})

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")

# Candid types, written from the XRC's xrc.did.
_ASSET_CLASS = Types.Variant({name: Types.Null for name in ASSET_CLASSES})
_ASSET = Types.Record({"symbol": Types.Text, "class": _ASSET_CLASS})
_GET_EXCHANGE_RATE_REQUEST = Types.Record(
    {"base_asset": _ASSET, "quote_asset": _ASSET, "timestamp": Types.Opt(Types.Nat64)}
)
_EXCHANGE_RATE_METADATA = Types.Record(
    {
        "decimals": Types.Nat32,
        "base_asset_num_received_rates": Types.Nat64,
        "base_asset_num_queried_sources": Types.Nat64,
        "quote_asset_num_received_rates": Types.Nat64,
        "quote_asset_num_queried_sources": Types.Nat64,
        "standard_deviation": Types.Nat64,
        "forex_timestamp": Types.Opt(Types.Nat64),
    }
)
_EXCHANGE_RATE = Types.Record(
    {
        "base_asset": _ASSET,
        "quote_asset": _ASSET,
        "timestamp": Types.Nat64,
        "rate": Types.Nat64,
        "metadata": _EXCHANGE_RATE_METADATA,
    }
)
_EXCHANGE_RATE_ERROR = Types.Variant(
    {
        **{name: Types.Null for name in RATE_ERROR_KINDS if name != "Other"},
        "Other": Types.Record({"code": Types.Nat32, "description": Types.Text}),
    }
)
_GET_EXCHANGE_RATE_RESULT = Types.Variant({"Ok": _EXCHANGE_RATE, "Err": _EXCHANGE_RATE_ERROR})

# Exact decimal arithmetic: any rounding is a bug, so it traps instead of rounding.
_EXACT = Context(prec=60, traps=[Inexact, Rounded])
_MAX_DECIMALS = 30


class IcpRateError(IcpError):
    """The Exchange Rate Canister answered ``Err``.

    ``kind`` is the ``ExchangeRateError`` case name (one of ``RATE_ERROR_KINDS``);
    ``code`` is only set for ``Other``.
    """

    def __init__(self, kind: str, description: str, code: int | None = None) -> None:
        super().__init__(f"{kind}: {description}" if description else kind)
        self.kind = kind
        self.description = description
        self.code = code

    @property
    def is_transient(self) -> bool:
        """True for the error kinds the XRC documents as "try again later"."""
        return self.kind in _TRANSIENT_RATE_ERRORS


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """One XRC rate: ``1 base = rate quote`` at ``timestamp`` (Unix seconds, minute start).

    ``rate`` is ``raw_rate * 10**-decimals`` computed exactly; ``standard_deviation``
    uses the same scale.
    """

    base: str
    quote: str
    rate: Decimal
    timestamp: int
    decimals: int
    raw_rate: int
    base_class: str
    quote_class: str
    standard_deviation: Decimal
    base_asset_num_received_rates: int
    base_asset_num_queried_sources: int
    quote_asset_num_received_rates: int
    quote_asset_num_queried_sources: int
    forex_timestamp: int | None


class XrcClient(Agent):
    """``Agent`` with the Exchange Rate Canister's API: ``get_exchange_rate``."""

    def get_exchange_rate(
        self,
        *,
        base: str,
        quote: str,
        base_class: str = "Cryptocurrency",
        quote_class: str = "FiatCurrency",
        timestamp: int | None = None,
        xrc_canister_id: str | None = None,
    ) -> ExchangeRate:
        """Ask the Exchange Rate Canister for ``base/quote`` with an update call
        (``/call`` then ``/read_state`` polling), as ``get_exchange_rate`` is an update
        method.

        Preconditions: symbols are 1-32 ASCII letters/digits (sent upper-cased);
        classes are in ``ASSET_CLASSES``; ``timestamp`` is None (now) or Unix seconds;
        ``xrc_canister_id`` is None (``settings.ORACLE_ICP_XRC_CANISTER_ID``) or a
        textual principal.
        On mainnet the XRC refuses ingress messages (its ``canister_inspect_message``
        accepts nothing) and anonymous callers, and wants cycles attached, which an
        ingress call cannot do; see ``docs/icp.md``. Expect IcpRejected there.
        Side effects: one POST to ``/call`` and one or more to ``/read_state``.
        Raises: IcpInvalidArgument, IcpUnavailable (IcpPollTimeout if the outcome is
        unknown at ``call_timeout``), IcpRejected, IcpRateError, IcpProtocolError.
        """
        base_symbol = self._symbol(base, "base")
        quote_symbol = self._symbol(quote, "quote")
        for cls in (base_class, quote_class):
            if cls not in ASSET_CLASSES:
                raise IcpInvalidArgument(f"asset class must be one of {ASSET_CLASSES}: {cls!r}")
        if timestamp is not None and (not isinstance(timestamp, int) or not 0 <= timestamp < 2**64):
            raise IcpInvalidArgument("timestamp must be Unix seconds as a nat64")
        request = {
            "base_asset": {"symbol": base_symbol, "class": {base_class: None}},
            "quote_asset": {"symbol": quote_symbol, "class": {quote_class: None}},
            "timestamp": [] if timestamp is None else [timestamp],
        }
        arg = encode([{"type": _GET_EXCHANGE_RATE_REQUEST, "value": request}])
        if xrc_canister_id is None:
            xrc_canister_id = settings.ORACLE_ICP_XRC_CANISTER_ID
        reply = self._update(xrc_canister_id, "get_exchange_rate", arg)
        result = self._decode(reply, _GET_EXCHANGE_RATE_RESULT, "get_exchange_rate")
        if not isinstance(result, dict) or len(result) != 1:
            raise IcpProtocolError("get_exchange_rate returned a malformed result variant")
        if "Err" in result:
            raise self._rate_error(result["Err"])
        if "Ok" not in result:
            raise IcpProtocolError("get_exchange_rate result is neither Ok nor Err")
        return self._exchange_rate(result["Ok"], base_symbol, quote_symbol)

    # ------------------------------------------------------------------ XRC helpers

    @staticmethod
    def _symbol(symbol: str, what: str) -> str:
        if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol):
            raise IcpInvalidArgument(f"{what} symbol must be 1-32 ASCII letters/digits")
        # The XRC compares symbols upper-cased; sending them so avoids surprises.
        return symbol.upper()

    @staticmethod
    def _rate_error(err: Any) -> IcpRateError:
        if not isinstance(err, dict) or len(err) != 1:
            return IcpRateError("Other", "malformed ExchangeRateError")
        ((kind, payload),) = err.items()
        if kind == "Other" and isinstance(payload, dict):
            return IcpRateError(
                "Other", str(payload.get("description", "")), code=payload.get("code")
            )
        return IcpRateError(str(kind), "")

    @staticmethod
    def _exchange_rate(ok: dict[str, Any], base: str, quote: str) -> ExchangeRate:
        try:
            meta = ok["metadata"]
            decimals = meta["decimals"]
            raw_rate = ok["rate"]
            got_base = ok["base_asset"]["symbol"]
            got_quote = ok["quote_asset"]["symbol"]
            (base_class,) = ok["base_asset"]["class"].keys()
            (quote_class,) = ok["quote_asset"]["class"].keys()
            forex = meta["forex_timestamp"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IcpProtocolError(f"malformed ExchangeRate record: {exc}") from exc
        # A reply for another pair (misrouting, a buggy proxy) must never become a price.
        if got_base.upper() != base or got_quote.upper() != quote:
            raise IcpProtocolError(
                f"asked for {base}/{quote} but the XRC answered {got_base}/{got_quote}"
            )
        if raw_rate <= 0:
            raise IcpProtocolError("the XRC returned a zero rate")
        if decimals > _MAX_DECIMALS:
            raise IcpProtocolError(f"implausible decimals from the XRC: {decimals}")
        try:
            rate = Decimal(raw_rate).scaleb(-decimals, context=_EXACT)
            std_dev = Decimal(meta["standard_deviation"]).scaleb(-decimals, context=_EXACT)
        except DecimalException as exc:  # pragma: no cover - bounded inputs cannot round
            raise IcpProtocolError(f"rate cannot be represented exactly: {exc}") from exc
        return ExchangeRate(
            base=got_base,
            quote=got_quote,
            rate=rate,
            timestamp=ok["timestamp"],
            decimals=decimals,
            raw_rate=raw_rate,
            base_class=base_class,
            quote_class=quote_class,
            standard_deviation=std_dev,
            base_asset_num_received_rates=meta["base_asset_num_received_rates"],
            base_asset_num_queried_sources=meta["base_asset_num_queried_sources"],
            quote_asset_num_received_rates=meta["quote_asset_num_received_rates"],
            quote_asset_num_queried_sources=meta["quote_asset_num_queried_sources"],
            forex_timestamp=forex[0] if forex else None,
        )
