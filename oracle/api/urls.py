from django.urls import path, re_path

from oracle.api.views import ConvertView, PriceDetailView, PriceHistoryView, PriceListView

PAIR = r"(?P<pair>[A-Za-z0-9]{1,16}-[A-Za-z0-9]{1,16})"

urlpatterns = [
    path("prices/", PriceListView.as_view(), name="prices-list"),
    path("prices/convert/", ConvertView.as_view(), name="prices-convert"),
    re_path(rf"^prices/{PAIR}/$", PriceDetailView.as_view(), name="prices-detail"),
    re_path(rf"^prices/{PAIR}/history/$", PriceHistoryView.as_view(), name="prices-history"),
]
