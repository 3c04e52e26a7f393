"""Swaps API, mounted under /api/v1/."""

from django.urls import path

from swaps.api import views

urlpatterns = [
    path("swaps/", views.SwapListCreateView.as_view(), name="swap-list"),
    path("swaps/quote/", views.SwapQuoteView.as_view(), name="swap-quote"),
    path("swaps/<uuid:swap_id>/", views.SwapDetailView.as_view(), name="swap-detail"),
    path("swaps/<uuid:swap_id>/recovery", views.SwapRecoveryView.as_view(), name="swap-recovery"),
    path("swaps/<uuid:swap_id>/messages", views.SwapMessagesView.as_view(), name="swap-messages"),
    path("swaps/<uuid:swap_id>/cancel", views.SwapCancelView.as_view(), name="swap-cancel"),
    path("swaps/<uuid:swap_id>/dispute", views.SwapDisputeView.as_view(), name="swap-dispute"),
    path("push/key", views.PushKeyView.as_view(), name="push-key"),
    path("push/subscriptions", views.PushSubscriptionView.as_view(), name="push-subscribe"),
    path("push/subscriptions/delete", views.PushUnsubscribeView.as_view(), name="push-unsubscribe"),
    path(
        "notifications/read-all",
        views.NotificationReadAllView.as_view(),
        name="notification-read-all",
    ),
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path(
        "notifications/<int:notification_id>/read",
        views.NotificationReadView.as_view(),
        name="notification-read",
    ),
]
