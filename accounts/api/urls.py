"""Accounts API, mounted under /api/v1/."""

from django.urls import path

from accounts.api import ii, views

urlpatterns = [
    path("auth/siwe/nonce", views.SiweNonceView.as_view(), name="auth-siwe-nonce"),
    path("auth/siwe/verify", views.SiweVerifyView.as_view(), name="auth-siwe-verify"),
    path("auth/siwe/link", views.SiweLinkView.as_view(), name="auth-siwe-link"),
    path("auth/ii/nonce", ii.IiNonceView.as_view(), name="auth-ii-nonce"),
    path("auth/ii/verify", ii.IiVerifyView.as_view(), name="auth-ii-verify"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/wallets", views.WalletListView.as_view(), name="me-wallets"),
    path("me/wallets/<str:address>", views.WalletUnlinkView.as_view(), name="me-wallet"),
    path(
        "me/wallets/<str:address>/default",
        views.WalletDefaultView.as_view(),
        name="me-wallet-default",
    ),
    path("me/avatar", views.AvatarView.as_view(), name="me-avatar"),
    path("me/icp-principal", ii.IcpPrincipalProofView.as_view(), name="me-icp-principal"),
    path("me/kyc", views.KycView.as_view(), name="me-kyc"),
    path("me/terms", views.MeTermsView.as_view(), name="me-terms"),
]
