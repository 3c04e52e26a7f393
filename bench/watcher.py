"""Watcher catch-up throughput: how fast the watcher stores a backlog of HTLC events.

One command:  .venv/bin/python bench/watcher.py [--locks 600] [--batch 500]
Uses the embedded SQLite in a temporary directory, or PostgreSQL when DATABASE_URL is
set (a throwaway database `bench_watcher_<pid>` is created and dropped). Starts its own
anvil, deploys the HTLC, sends `--locks` native locks (one per block), mines the
confirmations, then times the watcher until it has stored every event.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-watcher-"))
os.environ["LOG_LEVEL"] = "WARNING"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", type=int, default=600)
    parser.add_argument("--batch", type=int, default=500, help="CHAIN_SCAN_BATCH")
    args = parser.parse_args()

    import django

    db_url = os.environ.get("DATABASE_URL")
    if db_url:
        settings_db = f"bench_watcher_{os.getpid()}"
        os.environ["DATABASE_URL"] = db_url.rsplit("/", 1)[0] + "/" + settings_db
        import psycopg

        admin = psycopg.connect(db_url, autocommit=True)
        admin.execute(f"CREATE DATABASE {settings_db}")
    django.setup()
    from django.core.management import call_command
    from django.test import override_settings

    from chains import selectors, services, watcher
    from chains.models import ChainEvent
    from chains.tests.support import network_config, secret_pair, start_chain, user

    call_command("migrate", verbosity=0)
    chain = start_chain(31337)
    try:
        config = [network_config("local-a", 31337, chain.node.rpc_url, confirmations=2)]
        with override_settings(CHAIN_NETWORKS=config, CHAIN_SCAN_BATCH=args.batch):
            network = selectors.network_get("local-a")
            assert network is not None
            services.contract_deploy(network=network, contract="HTLC")
            deployment = selectors.htlc_deployment_get("local-a")
            assert deployment is not None
            htlc = deployment.address
            sent = time.perf_counter()
            for i in range(args.locks):
                _, hashlock = secret_pair()
                chain.lock_native(
                    user(1 + i % 8),
                    htlc,
                    recipient=user(9).address,
                    hashlock=hashlock,
                    timelock=chain.now() + 3600,
                    amount=10**12,
                )
            chain.mine(2)
            sending = time.perf_counter() - sent
            head = chain.w3.eth.block_number
            started = time.perf_counter()
            passes = 0
            while watcher.network_scan(network=network).status == "scanned":
                passes += 1
            elapsed = time.perf_counter() - started
            stored = ChainEvent.objects.filter(orphaned=False).count()
    finally:
        chain.node.stop()
        if db_url:
            from django.db import connections

            connections.close_all()
            admin.execute(f"DROP DATABASE {settings_db}")
    assert stored == args.locks, f"stored {stored} of {args.locks}"
    engine = "PostgreSQL" if db_url else "SQLite"
    print(
        f"watcher catch-up on {engine}: {stored} events over {head} blocks in {elapsed:.2f} s "
        f"({passes} passes, batch {args.batch})"
    )
    print(
        f"  {stored / elapsed:,.0f} events/s, {head / elapsed:,.0f} blocks/s "
        f"(sending the locks took {sending:.1f} s)"
    )


if __name__ == "__main__":
    main()
