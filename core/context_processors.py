"""Template context every page needs."""

from django.conf import settings


def site(request) -> dict:
    """The WalletConnect project id (public by design: it is sent to every browser)."""
    return {"walletconnect_project_id": settings.WALLETCONNECT_PROJECT_ID}
