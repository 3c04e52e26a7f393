"""Every allauth page renders inside the site layout (header, main navigation, footer)."""

from __future__ import annotations

from pathlib import Path

import allauth
import pytest
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.template import Context, engines
from django.template.loader_tags import ExtendsNode
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SITE_BASE = Path(settings.BASE_DIR) / "templates" / "base.html"


class ClosedSignupAdapter(DefaultAccountAdapter):
    """Sign-up closed, to render allauth's "signup closed" page."""

    def is_open_for_signup(self, request):
        return False


def assert_in_site_layout(html: str, heading: str) -> None:
    assert '<header class="site-header">' in html
    assert '<nav class="nav" aria-label="Main">' in html
    assert '<a class="brand" href="/">' in html
    assert '<footer class="site-footer container">' in html
    assert "· P2P Swap</title>" in html
    assert heading in html
    # allauth's bare layout (its "Menu:" list) is not used
    assert "Menu:" not in html


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/password/reset/", "Password Reset"),
        ("/accounts/password/reset/done/", "We have sent you an email"),
        ("/accounts/password/reset/key/1-not-a-token/", "Bad Token"),
        ("/accounts/password/reset/key/done/", "Your password is now changed."),
        ("/accounts/confirm-email/", "Verify Your Email Address"),
        (
            "/accounts/confirm-email/not-a-key/",
            "This email confirmation link expired or is invalid",
        ),
        ("/accounts/inactive/", "This account is inactive."),
    ],
)
def test_allauth_pages_for_visitors_render_in_the_site_layout(client, path, heading):
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    assert_in_site_layout(response.content.decode(), heading)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/logout/", "Are you sure you want to sign out?"),
        ("/accounts/email/", "Email Addresses"),
        ("/accounts/password/change/", "Change Password"),
        ("/accounts/reauthenticate/", "Confirm Access"),
    ],
)
def test_allauth_pages_for_signed_in_users_render_in_the_site_layout(client, path, heading):
    # given
    client.force_login(UserFactory())
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert_in_site_layout(html, heading)
    assert 'class="link-button">Sign out</button>' in html  # the site header's own sign-out


def test_set_password_page_for_a_wallet_only_user_renders_in_the_site_layout(client):
    # given: a SIWE user has no usable password
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    # when
    response = client.get("/accounts/password/set/")
    # then
    assert response.status_code == 200
    assert_in_site_layout(response.content.decode(), "Set Password")


def test_email_confirmation_page_with_a_valid_key_renders_in_the_site_layout(client):
    # given
    user = UserFactory(email="ada@example.com")
    address = EmailAddress.objects.create(user=user, email=user.email, primary=True)
    key = EmailConfirmationHMAC(address).key
    # when
    response = client.get(reverse("account_confirm_email", args=[key]))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert_in_site_layout(html, "Confirm Email Address")
    assert "ada@example.com" in html


def test_password_reset_from_a_valid_key_renders_the_form_in_the_site_layout(client):
    # given
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    url = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    # when: allauth moves the key into the session and redirects to a key-less URL
    response = client.get(url, follow=True)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert_in_site_layout(html, "Change Password")
    assert 'name="password1"' in html


def test_signup_closed_page_renders_in_the_site_layout(client, settings):
    # given
    settings.ACCOUNT_ADAPTER = f"{__name__}.ClosedSignupAdapter"
    # when
    response = client.get("/accounts/signup/")
    # then
    assert response.status_code == 200
    assert_in_site_layout(response.content.decode(), "Sign Up Closed")


def _page_templates() -> list[str]:
    """allauth's page templates: account/*.html and its layouts (not mails or snippets)."""
    root = Path(allauth.__file__).parent / "templates"
    pages = sorted(p.relative_to(root).as_posix() for p in (root / "account").glob("*.html"))
    layouts = sorted(p.relative_to(root).as_posix() for p in (root / "allauth/layouts").glob("*"))
    return pages + layouts


def _root_template(name: str) -> Path:
    """Follow ``{% extends %}`` from ``name`` to the template at the top of its chain."""
    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.get_template(name)
    for _ in range(20):
        extends = template.nodelist.get_nodes_by_type(ExtendsNode)
        if not extends:
            return Path(template.origin.name)
        parent = extends[0].parent_name.resolve(Context())
        template = engine.get_template(parent)
    raise AssertionError(f"{name}: extends chain too deep")


@pytest.mark.parametrize("name", _page_templates())
def test_every_allauth_page_template_extends_the_site_layout(name):
    # when
    root = _root_template(name)
    # then
    assert root == SITE_BASE, f"{name} ends at {root}"
