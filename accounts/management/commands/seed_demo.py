"""Create the demo accounts once. Running it again changes nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import demo_accounts_seed


class Command(BaseCommand):
    help = "Create demo accounts for local development (idempotent; refused when DEBUG is off)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data is for development only (DEBUG is off).")
        for account, created in demo_accounts_seed():
            state = "created" if created else "exists"
            self.stdout.write(f"{account.username:<8} {account.email:<22} ({state})")
