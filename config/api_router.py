"""Everything under /api/v1/. Each app contributes its own `api/urls.py`."""

from django.urls import include, path

from core.api.views import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("chains.api.urls")),
    path("", include("oracle.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("marketplace.api.urls")),
    path("", include("swaps.api.urls")),
    path("", include("escrow.api.urls")),
]
