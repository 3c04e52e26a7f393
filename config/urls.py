from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import ii_views
from chains import faucet
from core import views as core_views

# The API and the probes first: Django tries the patterns in order, and each include with an
# empty prefix below is tried in full (every pattern, its misses collected for the 404 page)
# before a path that none of them holds reaches its own; no page pattern starts with "api/",
# "health/" or "metrics", so the order decides nothing else (core/tests/test_urls.py).
urlpatterns = [
    path("health/live", core_views.health_live, name="health-live"),
    path("health/ready", core_views.health_ready, name="health-ready"),
    path("metrics", core_views.metrics, name="metrics"),
    path("api/v1/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/(?P<path>.*)$", core_views.api_not_found),
    path("", include("oracle.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before allauth's own route: the sign-in page opens the Internet Identity window.
    path("accounts/login/", ii_views.login, name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("marketplace.urls")),
    path("", include("swaps.urls")),
    path("", include("escrow.urls")),
    path("faucet/", faucet.page, name="faucet"),  # DEBUG only: 404 otherwise
    path("admin/", admin.site.urls),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

admin.site.site_header = "P2P Swap operations"
if settings.DEBUG:
    admin.site.site_title = "P2P Swap (development)"
