"""Listings API, mounted under /api/v1/."""

from django.urls import path

from marketplace.api import views

urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="listings-list"),
    path("listings/<int:pk>/", views.ListingDetailView.as_view(), name="listings-detail"),
]
