"""Swap pages."""

from django.urls import path

from swaps import views

urlpatterns = [
    path("swaps/", views.mine, name="swaps-mine"),
    path("notifications/", views.notifications, name="swap-notifications"),
    path(
        "notifications/<int:notification_id>/open",
        views.notification_open,
        name="swap-notification-open",
    ),
    path("sw.js", views.service_worker, name="swap-service-worker"),
    path("swaps/quote/", views.quote, name="swap-quote-page"),
    path("swaps/recover/", views.recover, name="swap-recover"),
    path("swaps/recover/offline.html", views.recover_offline, name="swap-recover-offline"),
    path("swaps/<uuid:swap_id>/", views.detail, name="swap-page"),
    path("swaps/<uuid:swap_id>/messages/", views.message, name="swap-message"),
    path("swaps/<uuid:swap_id>/cancel/", views.cancel, name="swap-cancel-page"),
    path("swaps/<uuid:swap_id>/dispute/", views.dispute, name="swap-dispute-page"),
    path("swaps/evidence/<int:evidence_id>/", views.evidence, name="swap-evidence"),
]
