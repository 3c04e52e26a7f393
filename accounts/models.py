from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A marketplace user. Signs in by e-mail (allauth) or by wallet (SIWE).

    E-mail is optional because a wallet-only user has none; when present it is
    unique, case-insensitively.
    """

    email = models.EmailField("email address", blank=True, default="")

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_unique_ci",
            )
        ]
