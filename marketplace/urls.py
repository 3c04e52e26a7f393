"""Marketplace pages."""

from django.urls import path

from marketplace import views

urlpatterns = [
    path("market/", views.pairs, name="market-pairs"),
    path("market/<str:pair>/", views.book, name="market-book"),
    path("market/<str:base>/<str:quote>/", views.market, name="market"),
    path("u/<int:user_id>/", views.maker_profile, name="maker-profile"),
    path("listings/new/", views.create, name="listing-create"),
    path("listings/mine/", views.mine, name="listings-mine"),
    path("listings/<int:listing_id>/", views.detail, name="listing-detail"),
    path("listings/<int:listing_id>/edit/", views.edit, name="listing-edit"),
    path("listings/<int:listing_id>/state/", views.change_state, name="listing-state"),
    path("listings/<int:listing_id>/delete/", views.delete, name="listing-delete"),
]
