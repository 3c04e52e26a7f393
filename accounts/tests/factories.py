from __future__ import annotations

import factory
from django.conf import settings
from django.utils import timezone
from eth_account import Account

from accounts.models import AuditEvent, KycSubmission, User, Wallet


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("pass-word-2026")
    # Accepted the current terms (accounts.terms); tests of the terms gate clear these.
    terms_version = factory.LazyFunction(lambda: settings.TERMS_VERSION)
    terms_accepted_at = factory.LazyFunction(timezone.now)


class WalletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wallet

    user = factory.SubFactory(UserFactory)
    address = factory.LazyFunction(lambda: Account.create().address)
    chain_id = 31337


class KycSubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KycSubmission

    user = factory.SubFactory(UserFactory)
    level = User.KycLevel.BASIC
    document = factory.django.FileField(filename="id.pdf", data=b"%PDF-1.4 test document")


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    user = factory.SubFactory(UserFactory)
    event = AuditEvent.Kind.SIGN_IN
    created_at = factory.LazyFunction(timezone.now)
