from django.urls import path

from chains.api.views import NetworkListView

urlpatterns = [
    path("chains/", NetworkListView.as_view(), name="chains-list"),
]
