"""`python manage.py deploy_contracts --network NAME`: compile, deploy once, record."""

from django.core.management.base import BaseCommand, CommandError

from chains import selectors, services
from chains.keys import MissingKey


class Command(BaseCommand):
    help = (
        "Deploy the HTLC (and, on local networks, a test token) to a network and record it. "
        "Running it again with unchanged code does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", action="append", required=True, help="Repeatable.")
        parser.add_argument(
            "--test-token",
            action="store_true",
            help="Also deploy a test token (default on local-* networks only).",
        )

    def handle(self, *args, network: list[str], test_token: bool, **options):
        for name in network:
            net = selectors.network_get(name)
            if net is None:
                known = ", ".join(n.name for n in selectors.network_list()) or "none"
                raise CommandError(f"unknown or disabled network {name!r} (enabled: {known})")
            try:
                outcomes = services.network_bootstrap(
                    network=net, test_token=test_token or name.startswith("local-")
                )
            except MissingKey as exc:
                raise CommandError(str(exc)) from exc
            for outcome in outcomes:
                d = outcome.deployment
                verb = "deployed" if outcome.created else "unchanged"
                self.stdout.write(
                    f"{name}: {d.contract}{'/' + d.label if d.label else ''} {verb} at {d.address}"
                )
