"""Input and output shapes of the accounts API."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.models import KycSubmission, User, Wallet
from core.api.fields import ID_MAX, BoundedIntegerField


class SiweNonceInput(serializers.Serializer):
    address = serializers.CharField(max_length=64)
    chain_id = BoundedIntegerField(min_value=1, max_value=ID_MAX)


class SiweNonceOutput(serializers.Serializer):
    nonce = serializers.CharField()
    message = serializers.CharField(help_text="The complete EIP-4361 message to sign.")
    expires_at = serializers.DateTimeField()


class SiweVerifyInput(serializers.Serializer):
    message = serializers.CharField(max_length=4096, trim_whitespace=False)
    signature = serializers.CharField(max_length=2048, help_text="0x-prefixed hex")


class SiweSignInInput(SiweVerifyInput):
    accept_terms = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "The user accepted the current terms of service (GET /api/v1/me/terms gives the "
            "version and pages). Without it, a new account answers 403 `terms_not_accepted` "
            "until POST /api/v1/me/terms."
        ),
    )


class TermsStatusOutput(serializers.Serializer):
    version = serializers.CharField(help_text="The current terms of service.")
    accepted_version = serializers.CharField(help_text="The version this account accepted.")
    accepted = serializers.BooleanField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    terms_url = serializers.CharField()
    privacy_url = serializers.CharField()


class TermsAcceptInput(serializers.Serializer):
    version = serializers.CharField(
        max_length=32, help_text="The version shown to the user: must be the current one."
    )


class WalletOutput(serializers.ModelSerializer):
    class Meta:
        model = Wallet
        fields = ["address", "chain_id", "created_at", "is_default"]
        extra_kwargs = {
            "is_default": {"help_text": "The address new offers and swaps propose first."}
        }


@extend_schema_field(
    {"type": "string", "nullable": True, "example": "1.500000", "format": "decimal"}
)
class ExactAmountField(serializers.Field):
    """A Decimal as a plain decimal string with all its places (never exponent notation)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


class BalanceOutput(serializers.Serializer):
    network = serializers.CharField()
    chain_id = serializers.IntegerField()
    asset_id = serializers.IntegerField()
    symbol = serializers.CharField()
    decimals = serializers.IntegerField()
    token = serializers.CharField(
        allow_null=True,
        help_text=(
            "The ERC-20 contract; null for the network's native coin. "
            "On network `icp`: the token's ICRC-1 ledger canister id."
        ),
    )
    amount = ExactAmountField(
        help_text=(
            "Exact amount in whole units with `decimals` places (a string); "
            "null when the network could not be read."
        )
    )
    status = serializers.ChoiceField(
        choices=["ok", "unavailable"],
        help_text="`unavailable` when the network did not answer in time; retry later.",
    )


class WalletBalancesOutput(WalletOutput):
    """A linked wallet and what it holds of every configured asset (cached briefly)."""

    balances = serializers.SerializerMethodField()

    class Meta(WalletOutput.Meta):
        fields = [*WalletOutput.Meta.fields, "balances"]

    @extend_schema_field(BalanceOutput(many=True))
    def get_balances(self, wallet: Wallet) -> list[dict]:
        found = self.context["balances"].get(wallet.address.lower(), [])
        return list(BalanceOutput(found, many=True).data)


class ReputationOutput(serializers.Serializer):
    completed_swaps = serializers.IntegerField()
    volume_usd = serializers.DecimalField(
        max_digits=30, decimal_places=2, help_text="Value of the completed swaps in USD."
    )
    refunded_swaps = serializers.IntegerField(help_text="Refunded swaps you were at fault in.")
    failed_swaps = serializers.IntegerField(
        help_text="Swaps you failed: a missed deadline or a lock off the terms."
    )
    abandoned_swaps = serializers.IntegerField(help_text="Swaps you took and never locked.")
    disputes_opened = serializers.IntegerField()
    disputes_lost = serializers.IntegerField()
    member_since = serializers.DateTimeField()


class PublicReputationOutput(serializers.Serializer):
    """A maker's public track record (on every listing)."""

    completed_swaps = serializers.IntegerField()
    failed_swaps = serializers.IntegerField()
    volume_usd = serializers.DecimalField(max_digits=30, decimal_places=2)
    member_since = serializers.DateTimeField()
    kyc_level = serializers.CharField()


class UserOutput(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()
    wallets = WalletOutput(many=True, read_only=True)
    reputation = serializers.SerializerMethodField(
        help_text="Derived from swap records by the swaps app; zeros before the first swap."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "display_name",
            "preferred_language",
            "avatar_url",
            "icp_principal",
            "icp_principal_proven_at",
            "kyc_level",
            "terms_version",
            "terms_accepted_at",
            "wallets",
            "reputation",
        ]

    def get_avatar_url(self, user: User) -> str | None:
        return reverse("accounts-avatar", args=[user.pk]) if user.avatar else None

    @extend_schema_field(ReputationOutput)
    def get_reputation(self, user: User) -> dict:
        return ReputationOutput(selectors.reputation_get(user=user)).data


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = UserOutput()


class LinkOutput(serializers.Serializer):
    wallet = WalletOutput()
    user = UserOutput()


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class RefreshOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048, required=False)


class ProfileInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    preferred_language = serializers.ChoiceField(choices=User.Language.choices, required=False)


class AvatarInput(serializers.Serializer):
    avatar = serializers.FileField()


class KycInput(serializers.Serializer):
    level = serializers.ChoiceField(choices=[User.KycLevel.BASIC, User.KycLevel.VERIFIED])
    document = serializers.FileField()


class KycOutput(serializers.ModelSerializer):
    class Meta:
        model = KycSubmission
        fields = ["id", "level", "status", "reason", "created_at", "reviewed_at"]


class KycStatusOutput(serializers.Serializer):
    level = serializers.CharField()
    limit_usd = serializers.DecimalField(max_digits=20, decimal_places=2)
    submissions = KycOutput(many=True)
