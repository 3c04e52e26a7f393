"""Account pages (allauth's own pages live under /accounts/), and allauth's headless API."""

from django.urls import include, path

from accounts import views

urlpatterns = [
    # allauth headless (apps and SPAs) at its default prefix: /_allauth/{browser,app}/v1/...
    path("_allauth/", include("allauth.headless.urls")),
    path("profile/", views.profile, name="accounts-profile"),
    path("profile/wallets/", views.wallets, name="accounts-wallets"),
    path("profile/wallets/unlink/", views.wallet_unlink, name="accounts-wallet-unlink"),
    path("profile/wallets/default/", views.wallet_default, name="accounts-wallet-default"),
    path("profile/kyc/", views.kyc, name="accounts-kyc"),
    path("profile/delete/", views.delete, name="accounts-delete"),
    path("avatars/<int:user_id>", views.avatar, name="accounts-avatar"),
    path("terms/", views.terms, name="terms"),
    path("terms/accept/", views.terms_accept, name="terms-accept"),
    path("privacy/", views.privacy, name="privacy"),
]
