"""Demo data for local development: the demo accounts and the Site row (`seed_demo`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sites.models import Site
from django.db import transaction
from django.utils import timezone

from accounts.models import User

# Public, well-known demo credentials: local development only (seed_demo refuses when DEBUG is off).
DEMO_PASSWORD = "demo-pass-2026"
DEMO_ACCOUNTS = [
    {"username": "admin", "email": "admin@example.com", "is_staff": True, "is_superuser": True},
    {"username": "alice", "email": "alice@example.com", "is_staff": False, "is_superuser": False},
    {"username": "bob", "email": "bob@example.com", "is_staff": False, "is_superuser": False},
]


@transaction.atomic
def demo_accounts_seed(*, site_domain: str = "localhost") -> list[tuple]:
    """Create the demo users (with verified e-mail) and the Site row, if missing.

    Idempotent: existing users are left untouched (their passwords too).
    Returns ``[(user, created), ...]``.
    """
    from allauth.account.models import EmailAddress

    Site.objects.update_or_create(pk=1, defaults={"domain": site_domain, "name": "P2P Swap"})
    results = []
    for spec in DEMO_ACCOUNTS:
        user, created = User.objects.get_or_create(
            username=spec["username"],
            defaults={k: v for k, v in spec.items() if k != "username"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.terms_version, user.terms_accepted_at = settings.TERMS_VERSION, timezone.now()
            user.save(update_fields=["password", "terms_version", "terms_accepted_at"])
            EmailAddress.objects.get_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )
        results.append((user, created))
    return results
