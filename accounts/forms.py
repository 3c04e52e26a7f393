"""Forms of the account pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import User


class SignupForm(forms.Form):
    """Extra sign-up field (allauth ``ACCOUNT_SIGNUP_FORM_CLASS``): accepting the terms."""

    accept_terms = forms.BooleanField(
        required=True,
        label=_("I accept the terms of service"),
        error_messages={"required": _("You must accept the terms of service to sign up.")},
    )

    def signup(self, request: HttpRequest, user: User) -> None:
        services.user_terms_accept(user=user, version=settings.TERMS_VERSION)


class TermsAcceptForm(forms.Form):
    """Accepting the current terms (a new wallet account, or after the terms changed)."""

    accept_terms = forms.BooleanField(
        required=True,
        label=_("I accept the terms of service and the privacy notice"),
        error_messages={"required": _("Tick the box to accept the terms of service.")},
    )


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=80, required=False)
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=User.Language.choices
    )
    avatar = forms.FileField(label=_("Avatar"), required=False)


class KycForm(forms.Form):
    level = forms.ChoiceField(
        label=_("Level"),
        choices=[(User.KycLevel.BASIC, _("Basic")), (User.KycLevel.VERIFIED, _("Verified"))],
    )
    document = forms.FileField(label=_("Identity document (PDF, PNG or JPEG)"))
