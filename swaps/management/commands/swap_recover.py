"""Redeem or refund a swap's lock from a terminal, with nothing but its recovery file, an
RPC URL and a key: no database, web server or worker of this site is needed.

    python manage.py swap_recover swap-….recovery.json --rpc http://127.0.0.1:8545 \\
        --key-env MY_PRIVATE_KEY [--dry-run]

It asks the RPC which chain it serves, reads each of the file's locks on that chain, and
sends what can be sent now: the refund once a lock's timelock has passed, the redeem before
it when the file holds the secret. The key is read from the named environment variable,
never from the command line (shell history, process lists).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chains.interface import ChainUnavailable
from swaps import recovery


class Command(BaseCommand):
    help = "Redeem or refund a swap's lock from its recovery file, through any RPC."
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file", help="the recovery file saved from the swap page")
        parser.add_argument("--rpc", required=True, help="JSON-RPC URL of the lock's network")
        parser.add_argument(
            "--key-env",
            default="",
            help="name of the environment variable holding the sending account's private key",
        )
        parser.add_argument("--dry-run", action="store_true", help="say what would be sent")

    def handle(self, *args, **options):
        try:
            legs = recovery.parse(Path(options["file"]).read_text())
        except (OSError, recovery.KitError) as exc:
            raise CommandError(f"cannot read the recovery file: {exc}") from exc
        rpc_url = options["rpc"]
        try:
            chain = recovery.chain_id(rpc_url)
        except ChainUnavailable as exc:
            raise CommandError(f"the RPC does not answer: {exc}") from exc
        here = [leg for leg in legs if leg.chain_id == chain]
        if not here:
            served = ", ".join(f"{leg.network} (chain id {leg.chain_id})" for leg in legs)
            raise CommandError(
                f"this RPC serves chain id {chain}; the file's locks are on {served}"
            )
        sent = 0
        for leg in here:
            try:
                found = recovery.lock_on_chain(
                    rpc_url=rpc_url, contract=leg.contract, lock_id=leg.lock_id
                )
            except ChainUnavailable as exc:
                raise CommandError(f"cannot read the {leg.role} lock: {exc}") from exc
            when = datetime.fromtimestamp(leg.timelock, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            self.stdout.write(
                f"{leg.role} lock {leg.lock_id} on {leg.network}: {leg.amount} {leg.symbol} "
                f"from {leg.sender} to {leg.recipient}; {found.state.name.lower()}; timelock {when}"
            )
            step = recovery.next_step(leg, found)
            if step is None:
                if found.state.name == "LOCKED" and leg.mine:
                    wait = leg.timelock - found.now
                    self.stdout.write(f"  nothing to send yet: refundable in {wait} s ({when})")
                elif found.state.name == "LOCKED":
                    self.stdout.write("  not yours to refund; redeem it needs the secret")
                continue
            data = leg.refund_data if step == "refund" else leg.redeem_data
            assert data is not None
            if options["dry_run"]:
                self.stdout.write(f"  would send {step}: to {leg.contract} data {data}")
                continue
            key = os.environ.get(options["key_env"] or "", "")
            if not key:
                raise CommandError("set --key-env to the name of a variable holding the key")
            try:
                result = recovery.send_with_key(
                    rpc_url=rpc_url, chain=chain, private_key=key, to=leg.contract, data=data
                )
            except (ChainUnavailable, TimeoutError) as exc:
                raise CommandError(f"{step} failed: {exc}") from exc
            if result.status != 1:
                raise CommandError(f"{step} reverted in block {result.block}: {result.tx_hash}")
            self.stdout.write(
                self.style.SUCCESS(f"  {step} sent: {result.tx_hash} (block {result.block})")
            )
            sent += 1
        if not sent and not options["dry_run"]:
            self.stdout.write("nothing was sent")
