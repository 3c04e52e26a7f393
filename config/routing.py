"""WebSocket routes. Each app adds its consumers here."""

from django.urls import path

from core.consumers import PingConsumer
from escrow.consumers import OrderConsumer
from oracle.consumers import PricesConsumer
from swaps.consumers import SwapConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/prices/", PricesConsumer.as_asgi()),
    path("ws/swaps/<uuid:swap_id>/", SwapConsumer.as_asgi()),
    path("ws/orders/<uuid:order_id>/", OrderConsumer.as_asgi()),
]
