from django.urls import path

from chains.api.views import AssetListView, NetworkListView

urlpatterns = [
    path("chains/", NetworkListView.as_view(), name="chains-list"),
    path("assets/", AssetListView.as_view(), name="assets-list"),
]
