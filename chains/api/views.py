from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny

from chains import escrow, selectors
from chains.api.serializers import AssetSerializer, NetworkSerializer


@extend_schema(tags=["chains"], summary="Networks, with the HTLC and Escrow addresses and ABIs")
class NetworkListView(generics.ListAPIView):
    """Every enabled network. Public: clients build their transactions from it."""

    permission_classes = [AllowAny]
    serializer_class = NetworkSerializer

    def get_queryset(self):
        return selectors.network_list()

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "deployments": selectors.htlc_deployments_by_network(),
            "escrows": escrow.escrow_addresses(),
        }


@extend_schema(
    tags=["chains"],
    summary="Tradable assets",
    parameters=[OpenApiParameter("network", str, description="Only this network's assets.")],
)
class AssetListView(generics.ListAPIView):
    """Every enabled asset on an enabled network. Public."""

    permission_classes = [AllowAny]
    serializer_class = AssetSerializer

    def get_queryset(self):
        return selectors.asset_list(network=self.request.query_params.get("network") or None)

    def get_serializer_context(self):
        networks = {n.name: n for n in selectors.network_list()}
        return {**super().get_serializer_context(), "networks": networks}
