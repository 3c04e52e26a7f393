"""Input and output shapes of the accounts API."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from accounts.models import KycSubmission, User, Wallet


class SiweNonceInput(serializers.Serializer):
    address = serializers.CharField(max_length=64)
    chain_id = serializers.IntegerField(min_value=1)


class SiweNonceOutput(serializers.Serializer):
    nonce = serializers.CharField()
    message = serializers.CharField(help_text="The complete EIP-4361 message to sign.")
    expires_at = serializers.DateTimeField()


class SiweVerifyInput(serializers.Serializer):
    message = serializers.CharField(max_length=4096, trim_whitespace=False)
    signature = serializers.CharField(max_length=2048, help_text="0x-prefixed hex")


class WalletOutput(serializers.ModelSerializer):
    class Meta:
        model = Wallet
        fields = ["address", "chain_id", "created_at"]


class UserOutput(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()
    wallets = WalletOutput(many=True, read_only=True)

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
            "kyc_level",
            "terms_version",
            "terms_accepted_at",
            "wallets",
        ]

    def get_avatar_url(self, user: User) -> str | None:
        return reverse("accounts-avatar", args=[user.pk]) if user.avatar else None


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


class IcpPrincipalInput(serializers.Serializer):
    principal = serializers.CharField(max_length=63)


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
