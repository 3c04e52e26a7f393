"""Seed the load run's offer books: makers with wallets and `--listings` active listings over
the local markets (ETH and TEST on local-a and local-b), priced near the run's oracle prices.

    DJANGO_SETTINGS_MODULE=config.settings.prod python -m bench.load.seed --listings 3000

Run by ``bench/load/run.py`` against its scratch database after ``deploy_contracts`` (which
registers the assets). Listings are written in bulk, not through ``listing_create``: the
oracle has no price yet while the stack is being prepared, and the load is the point.
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

# The USD prices the run's exchange server quotes (run.py publishes the same figures).
USD = {"ETH": Decimal("2000"), "TEST": Decimal("1")}
# (base, quote, share of listings): the busy cross-chain markets and a same-coin bridge.
MARKETS = [
    (("ETH", "local-a"), ("TEST", "local-b"), 0.35),
    (("ETH", "local-b"), ("TEST", "local-a"), 0.25),
    (("TEST", "local-b"), ("ETH", "local-a"), 0.15),
    (("TEST", "local-a"), ("ETH", "local-b"), 0.10),
    (("ETH", "local-a"), ("ETH", "local-b"), 0.15),
]
WORDS = [
    "fast",
    "reply",
    "online",
    "evening",
    "weekend",
    "trusted",
    "patient",
    "small",
    "bulk",
    "instant",
    "friendly",
]


def seed(*, listings: int, makers: int, rng: random.Random) -> int:
    """Create `makers` verified makers with a wallet each and `listings` active listings;
    returns how many listings the database holds."""
    from accounts.models import Reputation, User, Wallet
    from chains.models import Asset
    from marketplace.models import Listing

    assets = {(a.symbol, a.network): a for a in Asset.objects.all()}
    missing = {k for b, q, _s in MARKETS for k in (b, q)} - set(assets)
    if missing:
        raise SystemExit(f"assets missing (run deploy_contracts first): {sorted(missing)}")
    users = User.objects.bulk_create(
        [User(username=f"loadmaker{i}", kyc_level="verified") for i in range(makers)]
    )
    wallets = Wallet.objects.bulk_create(
        [Wallet(user=u, address="0x" + f"{0xA000 + u.pk:040x}", chain_id=31337) for u in users]
    )
    Reputation.objects.bulk_create(
        [Reputation(user=u, completed_swaps=rng.randint(1, 200)) for u in users[::2]]
    )
    address = {w.user_id: w.address for w in wallets}
    weights = [share for _b, _q, share in MARKETS]
    rows = []
    for _ in range(listings):
        base_key, quote_key, _share = rng.choices(MARKETS, weights)[0]
        base, quote = assets[base_key], assets[quote_key]
        fair = USD[base.symbol] / USD[quote.symbol]
        # Worth 1,000 to 40,000 USD; the smallest trade about 10 USD (a taker without KYC
        # may take it: KYC_LIMIT_USD_NONE).
        amount = (Decimal(rng.randint(1_000, 40_000)) / USD[base.symbol]).quantize(Decimal("1e-4"))
        min_trade = (Decimal(10) / USD[base.symbol]).quantize(Decimal("1e-4"))
        market_relative = rng.random() < 0.2
        price = None
        if not market_relative:
            step = Decimal(1).scaleb(-min(quote.decimals, 8))
            price = (fair * Decimal(rng.randint(980, 1020)) / 1000).quantize(step)
        maker = rng.choice(users)
        rows.append(
            Listing(
                maker=maker,
                base_asset=base,
                quote_asset=quote,
                amount=amount,
                remaining=amount,
                min_trade=min_trade,
                max_trade=amount,
                price=price,
                price_margin_pct=Decimal(rng.randint(-150, 150)) / 100 if market_relative else None,
                payout_address=address[maker.pk],
                refund_address=address[maker.pk],
                terms=" ".join(rng.sample(WORDS, rng.randint(2, 6))),
                state=Listing.State.ACTIVE,
            )
        )
    Listing.objects.bulk_create(rows, batch_size=1000)
    return Listing.objects.count()


def fund(*, seed: str, count: int) -> None:
    """Give the first `count` load keys of `seed` 100 ETH and 1,000,000 TEST on both local
    chains: ETH by ``anvil_setBalance``, TEST minted (anyone may mint the local test token)
    from anvil's unlocked development account 0; waits for the last mint on each chain."""
    from django.conf import settings
    from eth_account import Account
    from web3 import Web3

    from bench.load.keys import key_bytes
    from chains.anvil import rpc_call
    from chains.models import Asset

    addresses = [Account.from_key(key_bytes(seed, n)).address for n in range(count)]
    selector = Web3.keccak(text="mint(address,uint256)")[:4].hex()
    for network in settings.CHAIN_NETWORKS:
        if not network["name"].startswith("local-"):
            continue
        rpc, token = network["rpc_url"], Asset.objects.get(network=network["name"], symbol="TEST")
        sender = rpc_call(rpc, "eth_accounts")[0]
        last = ""
        for address in addresses:
            rpc_call(rpc, "anvil_setBalance", [address, hex(100 * 10**18)])
            amount = 1_000_000 * 10**token.decimals
            data = "0x" + selector + address[2:].lower().rjust(64, "0") + f"{amount:064x}"
            last = rpc_call(
                rpc, "eth_sendTransaction", [{"from": sender, "to": token.address, "data": data}]
            )
        for _ in range(120):
            receipt = rpc_call(rpc, "eth_getTransactionReceipt", [last])
            if receipt is not None:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"the mints on {network['name']} were not mined")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=3000)
    parser.add_argument("--makers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--fund", type=int, default=0, help="fund this many load keys")
    parser.add_argument("--key-seed", default="", help="the run's key seed (keys.py)")
    args = parser.parse_args()
    import django

    django.setup()
    count = seed(listings=args.listings, makers=args.makers, rng=random.Random(args.seed))
    print(f"seeded {count} listings by {args.makers} makers", flush=True)
    if args.fund:
        fund(seed=args.key_seed, count=args.fund)
        print(f"funded {args.fund} load wallets on the local chains", flush=True)


if __name__ == "__main__":
    main()
