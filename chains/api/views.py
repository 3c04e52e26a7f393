from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny

from chains import selectors
from chains.api.serializers import NetworkSerializer


@extend_schema(tags=["chains"], summary="Networks the marketplace settles on")
class NetworkListView(generics.ListAPIView):
    """Every enabled network. Public: clients build their transactions from it."""

    permission_classes = [AllowAny]
    serializer_class = NetworkSerializer

    def get_queryset(self):
        return selectors.network_list()
