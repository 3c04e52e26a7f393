from django.apps import AppConfig

# User fields the offer book neither shows nor filters on: saving only these (a sign-in's
# last_login, a password) leaves cached offer-book reads valid.
_USER_FIELDS_UNSEEN = frozenset(
    {
        "last_login",
        "password",
        "terms_version",
        "terms_accepted_at",
        "icp_principal",
        "icp_principal_proven_at",
        "avatar",
    }
)


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    from marketplace.cache import book_changed

    if update_fields is None or not set(update_fields) <= _USER_FIELDS_UNSEEN:
        book_changed()


def _book_input_changed(sender, **kwargs) -> None:
    from marketplace.cache import book_changed

    book_changed()


def _asset_changed(sender, **kwargs) -> None:
    from marketplace.cache import book_changed
    from oracle.services import prices_changed

    book_changed()
    prices_changed()  # the oracle's direct pairs follow the registered assets


class MarketplaceConfig(AppConfig):
    """Listings and the offer book."""

    name = "marketplace"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from accounts.models import KycSubmission, Reputation
        from chains.models import Asset

        # What listings show of their maker and asset lives in other apps' rows, written by
        # their services: a change there marks the cached offer-book reads out of date on
        # commit (marketplace.cache). A KYC decision sets the level with a queryset update,
        # which sends no signal, next to saving its submission, which does.
        post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="book-user")
        for model in (Reputation, KycSubmission):
            post_save.connect(_book_input_changed, sender=model, dispatch_uid=f"book-{model}")
            post_delete.connect(_book_input_changed, sender=model, dispatch_uid=f"book-d-{model}")
        post_save.connect(_asset_changed, sender=Asset, dispatch_uid="book-asset")
        post_delete.connect(_asset_changed, sender=Asset, dispatch_uid="book-asset-d")
