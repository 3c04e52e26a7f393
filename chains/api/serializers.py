from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chains import selectors
from chains.models import Asset


class NetworkSerializer(serializers.Serializer):
    """A network as clients need it to build transactions."""

    name = serializers.CharField()
    chain_id = serializers.IntegerField()
    rpc_url = serializers.CharField(
        source="public_rpc_url", allow_blank=True, help_text="Public JSON-RPC URL for wallets."
    )
    confirmations = serializers.IntegerField(help_text="Blocks before an event counts.")
    block_time = serializers.IntegerField(help_text="Seconds per block.")
    explorer_url = serializers.CharField(allow_blank=True)
    native_symbol = serializers.CharField()
    htlc_address = serializers.SerializerMethodField()
    htlc_abi = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_htlc_address(self, network) -> str | None:
        deployment = self.context["deployments"].get(network.name)
        return deployment.address if deployment else None

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_htlc_abi(self, network) -> list[dict]:
        return selectors.htlc_abi()


class AssetSerializer(serializers.ModelSerializer):
    """An asset as clients need it: amounts are in units of 10^-decimals."""

    chain_id = serializers.SerializerMethodField()
    address = serializers.CharField(allow_null=True, help_text="null for the native coin.")
    price_symbol = serializers.CharField(
        source="priced_as",
        help_text="What the oracle prices it as (its symbol unless set, e.g. WETH → ETH); "
        "assets with the same price_symbol trade 1:1 through USD.",
    )

    class Meta:
        model = Asset
        fields = [
            "id",
            "symbol",
            "name",
            "network",
            "chain_id",
            "address",
            "decimals",
            "price_symbol",
            "is_test",
        ]

    def get_chain_id(self, asset: Asset) -> int | None:
        network = self.context["networks"].get(asset.network)
        return network.chain_id if network else None
