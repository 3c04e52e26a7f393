"""`python manage.py follow_chains`: scan each network the moment a block is confirmed."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from chains import follower, relayer, selectors


class Command(BaseCommand):
    help = (
        "Follow every enabled network's head and run the watcher as soon as a new block is "
        "confirmed (chains/follower.py). Runs until SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--network", action="append", default=[], help="Only this network (repeatable)."
        )

    def handle(self, *args, network: list[str], **options):
        networks = selectors.network_list()
        if network:
            unknown = set(network) - {n.name for n in networks}
            if unknown:
                raise CommandError(f"unknown or disabled network(s): {', '.join(sorted(unknown))}")
            networks = [n for n in networks if n.name in network]
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        sender = follower.RedeemSender()
        relayer.redeem_sender_set(sender)
        followers = follower.follow(networks, stop)
        self.stdout.write(
            "following "
            + (
                ", ".join(
                    f"{f.network.name} every {follower.poll_seconds(f.network)} s"
                    for f in followers
                )
                or "nothing: no enabled network"
            )
        )
        while not stop.wait(1.0):
            pass
        for each in followers:
            if each.thread is not None:
                each.thread.join(timeout=30)
        relayer.redeem_sender_set(None)
        sender.close()
