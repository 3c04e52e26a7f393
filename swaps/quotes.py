"""What taking a listing would mean, before anything is reserved (``POST /api/v1/swaps/quote/``
and the take form): the terms, the fees of the taker's steps, every deadline and timelock as
a time, and every refusal ``swap_create`` would give now, balances included.

A named read (no write, no side effect): ``swap_create`` calls the same checks, so a quote
and a take cannot disagree on a rule. The listing's own rules (amount bounds, takeable) are
``marketplace.services.listing_reserve``'s; ``reserve_refusal`` mirrors them without the row
lock, and ``swaps/tests/test_quote.py`` holds the two to the same answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import User
from chains.interface import ChainUnavailable
from core.api.errors import ApiError
from core.decimals import (
    CTX,
    format_fixed,
    format_plain,
    from_base_units,
    places,
    quantize,
)
from marketplace import errors as listing_errors
from marketplace import selectors as market_selectors
from marketplace.models import Listing
from oracle import selectors as oracle_selectors
from swaps import errors, onchain
from swaps.errors import refuse
from swaps.models import OPEN_STATES, Swap

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# The verification levels as a refusal names them.
KYC_LEVEL_WORDS = {
    "none": _("not verified"),
    "basic": _("basic"),
    "verified": _("verified"),
}
# Gas per step: the tested ceilings of docs/gas.md (about 5% above the measured use), so an
# estimate is an upper bound. ERC-20 approve is not in that table: about 46,000 for the test
# token (a fresh allowance); 60,000 leaves room for heavier tokens.
GAS = {
    "approve": 60_000,
    "lock": 172_000,
    "lock_token": 235_000,  # the first lock of a token on a contract (steady state: 217,000)
    "redeem": 55_000,
    "redeem_token": 79_000,
    "refund": 54_000,
    "refund_token": 55_000,
}


@dataclass(frozen=True)
class Terms:
    """A take priced now: what ``swap_create`` would fix."""

    listing: Listing
    amount: Decimal
    price: Decimal
    quote_amount: Decimal
    value_usd: Decimal
    oracle_price: Decimal | None
    taker_timelock: int
    maker_timelock: int
    quote_expires_at: datetime
    schedule: onchain.Schedule


@dataclass(frozen=True)
class Fee:
    """One step the taker sends: its gas (upper bound) at the network's fee level now."""

    step: str  # approve | lock | redeem
    network: str
    gas: int
    gas_price: int  # wei per gas
    symbol: str  # the network's native coin
    amount: Decimal  # in the native coin
    usd: Decimal | None


@dataclass(frozen=True)
class Funds:
    """One balance the take needs, and what the wallet holds."""

    kind: str  # "asset" (the quote amount) or "gas"
    network: str
    symbol: str
    needed: Decimal
    available: Decimal
    decimals: int

    @property
    def missing(self) -> Decimal:
        return max(Decimal(0), self.needed - self.available)


@dataclass(frozen=True)
class Quote:
    terms: Terms
    taker_address: str
    fees: list[Fee]
    funds: list[Funds]
    refusals: list[ApiError] = field(default_factory=list)

    @property
    def can_take(self) -> bool:
        return not self.refusals


# ------------------------------------------------------------------ the checks


def _pair_label(listing) -> str:
    return f"{listing.base_asset.label}/{listing.quote_asset.label}"


def usd_price(symbol: str) -> Decimal | None:
    """The oracle's tradeable USD price of a price symbol, or None."""
    if symbol.upper() == "USD":
        return Decimal(1)
    agg = oracle_selectors.price_get(oracle_selectors.price_pair(symbol.upper(), "USD"))
    if agg is None or not agg.tradeable or agg.price is None:
        return None
    return agg.price


def _usd_value(listing, amount: Decimal, quote_amount: Decimal) -> Decimal:
    """The swap's value in USD: the larger of its two legs at the oracle's USD prices (a
    lopsided trade is held to the limits by its bigger side), to the cent. Refuses
    ``price_unavailable`` when either leg has no tradeable USD price."""
    values = []
    for asset, value in ((listing.base_asset, amount), (listing.quote_asset, quote_amount)):
        price = usd_price(asset.priced_as)
        if price is None:
            raise refuse(errors.PRICE_UNAVAILABLE, symbol=asset.symbol)
        values.append(CTX.multiply(value, price))
    return quantize(max(values), 2, rounding=ROUND_HALF_UP)


def check_address(*, taker: User, taker_address: str) -> None:
    """The address the taker receives at: well formed and linked to them."""
    if not isinstance(taker_address, str) or not onchain_address(taker_address):
        raise refuse(errors.INVALID_ADDRESS, address=str(taker_address)[:64])
    owner = account_selectors.wallet_owner_get(taker_address)
    if owner is None or owner.pk != taker.pk:
        raise refuse(errors.ADDRESS_NOT_LINKED, address=taker_address)


def onchain_address(text: str) -> bool:
    return (
        len(text) == 42
        and text[:2] == "0x"
        and all(c in "0123456789abcdefABCDEF" for c in text[2:])
    )


def take_terms(*, listing_id: int, amount: Decimal) -> Terms:
    """Price a take of `amount` now, or refuse with the reason that makes a quote
    impossible: ``listing_not_found``, ``pair_unpriced``, ``pair_halted``,
    ``price_unavailable``, ``network_unavailable``, ``chain_unavailable`` (the timelocks
    follow from both chains' clocks). A fixed price outside the band is reported by
    ``out_of_band_rate``, not here."""
    listing = market_selectors.listing_get(listing_id=listing_id)
    if listing is None:
        raise refuse(errors.LISTING_NOT_FOUND)
    pair = oracle_selectors.price_get(listing.price_pair)
    if pair is None:
        raise refuse(errors.PAIR_UNPRICED, pair=_pair_label(listing))
    if not pair.tradeable:
        raise refuse(errors.PAIR_HALTED, pair=_pair_label(listing))
    t1, t2 = onchain.timelocks(
        base_network=listing.base_asset.network, quote_network=listing.quote_asset.network
    )
    try:
        priced = market_selectors.listing_quote(listing=listing, amount=amount)
    except listing_errors.ListingError as exc:
        raise explain(exc, listing=listing, amount=amount) from exc
    base, quote = (
        onchain.network(listing.base_asset.network),
        onchain.network(listing.quote_asset.network),
    )
    assert base is not None and quote is not None  # timelocks() refused otherwise
    return Terms(
        listing=listing,
        amount=amount,
        price=priced.price,
        quote_amount=priced.quote_amount,
        value_usd=_usd_value(listing, amount, priced.quote_amount),
        oracle_price=pair.price,
        taker_timelock=t1,
        maker_timelock=t2,
        quote_expires_at=timezone.now() + timedelta(seconds=settings.SWAP_QUOTE_WINDOW_SECONDS),
        schedule=onchain.schedule(base, quote),
    )


def out_of_band_rate(listing) -> Decimal | None:
    """The oracle's rate when the listing's fixed price drifted out of the band, else None."""
    if listing.price is None:
        return None
    return market_selectors.band_rate(
        base=listing.base_asset, quote=listing.quote_asset, price=listing.price
    )


def band_refusal(listing, rate: Decimal) -> ApiError:
    """``price_out_of_band`` (the marketplace's code and status) with the price, the band and
    the market rate."""
    params = {
        "price": format_plain(listing.price, listing.quote_asset.decimals),
        "band": str(settings.LISTING_MAX_PRICE_DEVIATION_PCT),
        "rate": format_plain(rate, listing.quote_asset.decimals),
    }
    message = str(errors.TAKE_EXPLAINED["price_out_of_band"]) % params
    return errors.SwapError(message, "price_out_of_band", listing_errors.PRICE_OUT_OF_BAND.status)


def _max_amount(terms: Terms, limit: Decimal) -> str:
    """The largest amount of the base asset whose swap stays within `limit` USD."""
    if terms.value_usd <= 0:
        return format_plain(terms.amount)
    most = CTX.divide(CTX.multiply(terms.amount, limit), terms.value_usd)
    return format_plain(quantize(most, terms.listing.base_asset.decimals, rounding=ROUND_DOWN))


def limit_refusals(*, terms: Terms, taker: User) -> list[ApiError]:
    """The KYC limits of both parties against the swap's larger leg in USD."""
    found = []
    symbol = terms.listing.base_asset.symbol
    for who, user, refusal in (
        ("taker", taker, errors.KYC_LIMIT_EXCEEDED),
        ("maker", terms.listing.maker, errors.MAKER_KYC_LIMIT_EXCEEDED),
    ):
        limit = account_selectors.kyc_limit_usd(user)
        if terms.value_usd > limit:
            params = {
                "value": format_fixed(terms.value_usd, 2),
                "limit": format_fixed(limit, 2),
                "max_amount": _max_amount(terms, limit),
                "symbol": symbol,
            }
            if who == "taker":
                params["level"] = str(KYC_LEVEL_WORDS.get(user.kyc_level, user.kyc_level))
            found.append(refuse(refusal, **params))
    return found


def standing_refusal(*, taker: User) -> ApiError | None:
    """A suspended taker, or one at the cap of open or of unlocked swaps. ``swap_create``
    asks under the taker's row lock; a quote asks without it."""
    until = account_selectors.suspended_until(taker)
    if until is not None:
        return refuse(
            errors.SUSPENDED,
            until=until.strftime("%Y-%m-%d %H:%M UTC"),
            faults=settings.SWAP_FAULT_SUSPEND_COUNT,
            days=settings.SWAP_FAULT_WINDOW_DAYS,
        )
    open_count = Swap.objects.filter(taker=taker, state__in=OPEN_STATES).count()
    if open_count >= settings.SWAP_MAX_OPEN_PER_USER:
        return refuse(
            errors.TOO_MANY_OPEN_SWAPS, count=open_count, limit=settings.SWAP_MAX_OPEN_PER_USER
        )
    unlocked = Swap.objects.filter(taker=taker, state=Swap.State.CREATED).count()
    if unlocked >= settings.SWAP_MAX_UNLOCKED_PER_USER:
        return refuse(
            errors.TOO_MANY_UNLOCKED_SWAPS,
            count=unlocked,
            limit=settings.SWAP_MAX_UNLOCKED_PER_USER,
        )
    return None


def reserve_refusal(*, listing, taker: User, amount: Decimal) -> ApiError | None:
    """What ``listing_reserve`` would refuse now (same rule, ``listing_take_refusal``; same
    codes, explained), without its lock."""
    refused = market_selectors.listing_take_refusal(listing=listing, taker=taker, amount=amount)
    if refused is None:
        return None
    refusal, params = refused
    return explain(listing_errors.refuse(refusal, **params), listing=listing, amount=amount)


def explain(exc: ApiError, *, listing, amount: Decimal) -> ApiError:
    """The marketplace's refusal of a take, with this take's numbers and the way out (same
    code and status); one the swaps app has no better words for is returned as is."""
    code = exc.get_codes()
    message = errors.TAKE_EXPLAINED.get(code) if isinstance(code, str) else None
    if message is None or not isinstance(code, str):
        return exc
    base, quote = listing.base_asset, listing.quote_asset
    params = {
        "amount": format_plain(amount),
        "symbol": base.symbol,
        "min": format_plain(listing.min_trade, base.decimals),
        "max": format_plain(listing.max_trade, base.decimals),
        "remaining": format_plain(listing.remaining, base.decimals),
        "places": places(base.decimals),
        "quote_symbol": quote.symbol,
    }
    return errors.SwapError(str(message) % params, code, exc.status_code)


# ------------------------------------------------------------------ fees and funds


def _cents(value: Decimal) -> Decimal:
    return quantize(value, 2, rounding=ROUND_HALF_UP)


def _fees(terms: Terms, wallets: dict[str, onchain.Wallet]) -> list[Fee]:
    listing = terms.listing
    quote_asset, base_asset = listing.quote_asset, listing.base_asset
    steps: list[tuple[str, str, int]] = []
    if not quote_asset.is_native:
        steps.append(("approve", quote_asset.network, GAS["approve"]))
        steps.append(("lock", quote_asset.network, GAS["lock_token"]))
    else:
        steps.append(("lock", quote_asset.network, GAS["lock"]))
    steps.append(
        (
            "redeem",
            base_asset.network,
            GAS["redeem"] if base_asset.is_native else GAS["redeem_token"],
        )
    )
    fees = []
    for step, network_name, gas in steps:
        found = onchain.network(network_name)
        assert found is not None
        price = wallets[network_name].gas_price
        amount = from_base_units(gas * price, 18)
        usd = usd_price(found.native_symbol)
        fees.append(
            Fee(
                step=step,
                network=network_name,
                gas=gas,
                gas_price=price,
                symbol=found.native_symbol,
                amount=amount,
                usd=None
                if usd is None
                else quantize(CTX.multiply(amount, usd), 2, rounding=ROUND_HALF_UP),
            )
        )
    return fees


def _funds(terms: Terms, fees: list[Fee], wallets: dict[str, onchain.Wallet]) -> list[Funds]:
    """What the taker's wallet must hold: the quote amount on the quote network, and the
    native coin for the fees of their steps on each network (with the quote amount when it
    is that coin)."""
    quote_asset = terms.listing.quote_asset
    gas_by_network: dict[str, Decimal] = {}
    for fee in fees:
        gas_by_network[fee.network] = gas_by_network.get(fee.network, Decimal(0)) + fee.amount
    funds = []
    if not quote_asset.is_native:
        wallet = wallets[quote_asset.network]
        held = wallet.tokens.get(str(quote_asset.address).lower(), 0)
        funds.append(
            Funds(
                "asset",
                quote_asset.network,
                quote_asset.symbol,
                terms.quote_amount,
                from_base_units(held, quote_asset.decimals),
                quote_asset.decimals,
            )
        )
    for network_name, gas in gas_by_network.items():
        found = onchain.network(network_name)
        assert found is not None
        needed = gas
        kind = "gas"
        if quote_asset.is_native and network_name == quote_asset.network:
            needed, kind = gas + terms.quote_amount, "asset"
        available = from_base_units(wallets[network_name].native, 18)
        funds.append(Funds(kind, network_name, found.native_symbol, needed, available, 18))
    return funds


def funds_refusals(*, funds: list[Funds], address: str) -> list[ApiError]:
    found = []
    for row in funds:
        if row.missing <= 0:
            continue
        shown = min(row.decimals, 8) if row.kind == "gas" else row.decimals
        params = {
            "address": address,
            "network": row.network,
            "symbol": row.symbol,
            "available": format_plain(quantize(row.available, shown)),
            "needed": format_plain(quantize(row.needed, shown, rounding=ROUND_UP)),
            "missing": format_plain(quantize(row.missing, shown, rounding=ROUND_UP)),
        }
        refusal = errors.INSUFFICIENT_BALANCE if row.kind == "asset" else errors.INSUFFICIENT_GAS
        found.append(refuse(refusal, **params))
    return found


def fees_and_funds(*, terms: Terms, address: str) -> tuple[list[Fee], list[Funds]]:
    """The fees of the taker's steps and the balances they need, read from both chains now
    (one JSON-RPC batch per network). Refuses ``chain_unavailable`` when a chain cannot be
    read."""
    listing = terms.listing
    networks = {listing.quote_asset.network, listing.base_asset.network}
    try:
        wallets = {
            name: onchain.wallet_now(
                network_name=name,
                address=address,
                tokens=tuple(
                    str(a.address)
                    for a in (listing.quote_asset,)
                    if not a.is_native and a.network == name
                ),
            )
            for name in sorted(networks)
        }
    except ChainUnavailable as exc:
        raise refuse(errors.CHAIN_UNAVAILABLE) from exc
    fees = _fees(terms, wallets)
    return fees, _funds(terms, fees, wallets)


# ------------------------------------------------------------------ the quote


def swap_quote(*, taker: User, listing_id: int, amount: Decimal, taker_address: str) -> Quote:
    """What taking `amount` of a listing would mean now, and every refusal ``swap_create``
    would give (``Quote.refusals``, empty when it would be accepted). Reads both chains
    (clocks, fee levels, the taker's balances) and the oracle; writes nothing.

    Raises ``SwapError`` when no quote can be made: ``invalid_address``,
    ``listing_not_found``, ``pair_unpriced``, ``pair_halted``, ``price_unavailable``,
    ``network_unavailable``, ``chain_unavailable``."""
    if not isinstance(taker_address, str) or not onchain_address(taker_address):
        raise refuse(errors.INVALID_ADDRESS, address=str(taker_address)[:64])
    terms = take_terms(listing_id=listing_id, amount=amount)
    refusals: list[ApiError] = []
    try:
        check_address(taker=taker, taker_address=taker_address)
    except ApiError as exc:
        refusals.append(exc)
    rate = out_of_band_rate(terms.listing)
    if rate is not None:
        refusals.append(band_refusal(terms.listing, rate))
    refusals += limit_refusals(terms=terms, taker=taker)
    standing = standing_refusal(taker=taker)
    if standing is not None:
        refusals.append(standing)
    reserve = reserve_refusal(listing=terms.listing, taker=taker, amount=amount)
    if reserve is not None:
        refusals.append(reserve)
    fees, funds = fees_and_funds(terms=terms, address=taker_address)
    refusals += funds_refusals(funds=funds, address=taker_address)
    return Quote(
        terms=terms, taker_address=taker_address, fees=fees, funds=funds, refusals=refusals
    )


def timeline(terms: Terms) -> dict[str, datetime]:
    """Each deadline and timelock of a take priced now, as a time, if every step comes at
    its last moment: the taker locks by ``lock_by``; the seller by ``maker_lock_by``; the
    taker redeems by ``redeem_by``; the seller's lock is refundable from ``maker_refund_at``
    (T2) and the taker's from ``taker_refund_at`` (T1)."""
    s = terms.schedule
    lock_by = terms.quote_expires_at
    maker_lock_by = lock_by + timedelta(
        seconds=s.expiry_grace + s.quote_confirmations + s.maker_response
    )
    redeem_by = maker_lock_by + timedelta(seconds=s.base_confirmations + s.taker_redeem)
    return {
        "lock_by": lock_by,
        "maker_lock_by": maker_lock_by,
        "redeem_by": redeem_by,
        "maker_refund_at": datetime.fromtimestamp(terms.maker_timelock, UTC),
        "taker_refund_at": datetime.fromtimestamp(terms.taker_timelock, UTC),
    }
