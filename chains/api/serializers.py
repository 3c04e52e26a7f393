from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chains import escrow, selectors
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
    escrow_address = serializers.SerializerMethodField(
        help_text="The active Escrow (goods and services); null where the network has none."
    )
    escrow_abi = serializers.SerializerMethodField()
    treasury_address = serializers.SerializerMethodField(
        help_text="Where the Escrow pays its fee on a release; null without an Escrow."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_htlc_address(self, network) -> str | None:
        deployment = self.context["deployments"].get(network.name)
        return deployment.address if deployment else None

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_htlc_abi(self, network) -> list[dict]:
        return selectors.htlc_abi()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_escrow_address(self, network) -> str | None:
        return self.context["escrows"].get(network.name)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_escrow_abi(self, network) -> list[dict]:
        return escrow.escrow_abi()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_treasury_address(self, network) -> str | None:
        # The configured treasury is the deployed one: deploy_contracts redeploys the
        # Escrow when it changes (chains.services.escrow_bootstrap). No RPC here.
        if network.name not in self.context["escrows"]:
            return None
        return escrow.treasury_address(network.name)


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
