from rest_framework import serializers


class NetworkSerializer(serializers.Serializer):
    """A network as clients need it to build transactions."""

    name = serializers.CharField()
    chain_id = serializers.IntegerField()
    rpc_url = serializers.CharField(help_text="Public JSON-RPC URL.")
    confirmations = serializers.IntegerField()
    block_time = serializers.IntegerField(help_text="Seconds per block.")
    explorer_url = serializers.CharField(allow_blank=True)
    native_symbol = serializers.CharField()
