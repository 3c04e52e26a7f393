"""Account pages: profile, wallets, KYC upload, deletion; and avatar images."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import KycForm, ProfileForm, TermsAcceptForm
from accounts.ii_views import allow_identity_provider_popups
from accounts.models import User
from core.api.errors import ApiError
from core.client_ip import client_ip


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    initial = {"display_name": user.display_name, "preferred_language": user.preferred_language}
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(
                user=user,
                display_name=form.cleaned_data["display_name"],
                preferred_language=form.cleaned_data["preferred_language"],
            )
            if form.cleaned_data.get("avatar"):
                services.avatar_set(user=user, upload=form.cleaned_data["avatar"])
        except ApiError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts-profile")
    context = {
        "form": form,
        "profile": user,
        "reputation": selectors.reputation_get(user=user),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_GET
@allow_identity_provider_popups
def wallets(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    wallets = list(selectors.wallet_list(user=user))
    balances = selectors.wallet_balance_map(wallets=wallets)
    context = {
        "wallets": [(wallet, balances[wallet.address.lower()]) for wallet in wallets],
        "icp_balances": selectors.icp_balance_list(user=user),
        "balance_cache_seconds": settings.WALLET_BALANCE_CACHE_SECONDS,
        "profile": user,
    }
    return render(request, "accounts/wallets.html", context)


@login_required
@require_POST
def wallet_unlink(request: HttpRequest) -> HttpResponse:
    """Unlink the posted address; the refusal (last sign-in method) is shown on the page."""
    user = request.user
    assert isinstance(user, User)
    address = request.POST.get("address", "")
    try:
        services.wallet_unlink(user=user, address=address, ip=client_ip(request))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("%(address)s was unlinked.") % {"address": address})
    return redirect("accounts-wallets")


@login_required
@require_POST
def wallet_default(request: HttpRequest) -> HttpResponse:
    """Make the posted address the default one."""
    user = request.user
    assert isinstance(user, User)
    try:
        wallet = services.wallet_default_set(user=user, address=request.POST.get("address", ""))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request, _("%(address)s is now your default wallet.") % {"address": wallet.address}
        )
    return redirect("accounts-wallets")


@login_required
@require_http_methods(["GET", "POST"])
def kyc(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = KycForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.kyc_submit(
                user=user,
                level=form.cleaned_data["level"],
                document=form.cleaned_data["document"],
                ip=client_ip(request),
            )
        except ApiError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, _("Your document was received and will be reviewed."))
            return redirect("accounts-kyc")
    context = {
        "form": form,
        "profile": user,
        "limit_usd": selectors.kyc_limit_usd(user),
        "submissions": selectors.kyc_submission_list(user=user),
    }
    return render(request, "accounts/kyc.html", context)


@login_required
@require_POST
def delete(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if request.POST.get("confirm") != "delete":
        messages.error(request, _("Tick the box to confirm the deletion."))
        return redirect("accounts-profile")
    services.user_delete(user=user, ip=client_ip(request))
    logout(request)
    messages.success(request, _("Your account was deleted."))
    return redirect("home")


@require_GET
def avatar(request: HttpRequest, user_id: int) -> FileResponse:
    """A user's avatar (always a PNG we re-encoded ourselves)."""
    user = get_object_or_404(User, pk=user_id, is_active=True)
    if not user.avatar:
        raise Http404
    response = FileResponse(user.avatar.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def terms(request: HttpRequest) -> HttpResponse:
    """The terms of service, version ``TERMS_VERSION``."""
    return render(request, "accounts/terms.html", {"terms_version": settings.TERMS_VERSION})


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """What personal data the platform keeps, why, and for how long."""
    return render(request, "accounts/privacy.html", {"terms_version": settings.TERMS_VERSION})


@login_required
@require_http_methods(["GET", "POST"])
def terms_accept(request: HttpRequest) -> HttpResponse:
    """Asks a signed-in user to accept the current terms before the account is used."""
    user = request.user
    assert isinstance(user, User)
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    form = TermsAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_terms_accept(user=user, version=settings.TERMS_VERSION)
        messages.success(request, _("Thank you: you accepted the terms of service."))
        return redirect(next_url)
    context = {
        "form": form,
        "next": next_url,
        "terms_version": settings.TERMS_VERSION,
        "renewal": bool(user.terms_version),
    }
    return render(request, "accounts/terms_accept.html", context)
