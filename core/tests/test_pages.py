import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import DEMO_ACCOUNTS

pytestmark = pytest.mark.django_db


def test_home_page_is_responsive_and_accessible(client):
    # when
    response = client.get("/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert '<label for="language-select"' in html
    assert '<html lang="en"' in html


def test_home_page_speaks_bengali_when_asked(client):
    # when
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="bn")
    # then
    html = response.content.decode()
    assert '<html lang="bn"' in html
    assert "সোয়াপ কীভাবে কাজ করে" in html
    assert "How a swap works" not in html


def test_language_switcher_remembers_the_choice(client):
    # when
    client.post("/i18n/setlang/", {"language": "bn", "next": "/"})
    response = client.get("/")
    # then
    assert '<html lang="bn"' in response.content.decode()


def test_static_files_have_hashed_names_long_cache_and_compression(client):
    # given: the page links the stylesheet by its hashed name
    html = client.get("/").content.decode()
    href = html.split('rel="stylesheet" href="')[1].split('"')[0]
    assert (
        href.startswith("/static/css/site.")
        and href.endswith(".css")
        and href != "/static/css/site.css"
    )
    # when
    plain = client.get(href)
    gzipped = client.get(href, HTTP_ACCEPT_ENCODING="gzip")
    brotli = client.get(href, HTTP_ACCEPT_ENCODING="br")
    # then
    assert plain.status_code == 200
    assert "immutable" in plain["Cache-Control"] and "max-age=315360000" in plain["Cache-Control"]
    assert gzipped["Content-Encoding"] == "gzip"
    assert brotli["Content-Encoding"] == "br"


def test_metrics_count_requests_by_view_and_status(client):
    # given
    client.get("/health/live")
    # when
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    # then
    text = response.content.decode()
    assert response.status_code == 200
    assert 'http_requests_total{method="GET",status="200",view="health-live"}' in text
    assert (
        'http_request_duration_seconds_bucket{le="0.005",method="GET",view="health-live"}' in text
    )


def test_metrics_need_the_token_when_one_is_set(client, settings):
    # given
    settings.METRICS_TOKEN = "metrics-token-1"
    # when
    anonymous = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    right = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-1", REMOTE_ADDR="10.1.2.3"
    )
    # then
    assert anonymous.status_code == 403
    assert wrong.status_code == 403
    assert right.status_code == 200


def test_metrics_refuse_remote_clients_without_a_token(client):
    # when
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_seed_demo_is_idempotent(django_user_model, settings):
    # given
    settings.DEBUG = True
    # when
    call_command("seed_demo")
    call_command("seed_demo")
    # then
    assert django_user_model.objects.count() == len(DEMO_ACCOUNTS)
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not django_user_model.objects.get(username="alice").is_staff


def test_seed_demo_is_refused_outside_development():
    # given
    assert settings.DEBUG is False
    # when / then
    with pytest.raises(CommandError, match="development only"):
        call_command("seed_demo")


def test_home_page_shows_the_price_ticker_with_each_pairs_status(client):
    # given: nothing published yet except what the oracle knows without sources
    from decimal import Decimal

    from django.core.cache import cache
    from django.utils import timezone

    from oracle.aggregation import fixed_price
    from oracle.selectors import cache_key

    cache.delete(cache_key("BTC-USD"))  # other tests may have published one
    cache.set(
        cache_key("TEST-USD"),
        fixed_price(pair="TEST-USD", price=Decimal("1.00"), now=timezone.now()),
    )
    # when
    html = client.get("/").content.decode()
    # then
    assert 'data-ws-path="/ws/prices/"' in html
    assert '<tr data-pair="BTC-USD">' in html
    assert 'class="status status-halted"' in html  # no source has answered: halted, no price
    assert '<tr data-pair="TEST-USD">' in html and "data-fixed" in html
    assert '<script type="module" src="/static/js/ticker.' in html


def test_every_admin_list_page_opens_for_staff(client, django_user_model):
    # given
    from django.contrib import admin

    boss = django_user_model.objects.create_superuser(username="boss", password="pw-123456789x")
    client.force_login(boss)
    # when / then
    for model in admin.site._registry:
        meta = model._meta
        response = client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        assert response.status_code == 200, (meta.label, response.status_code)
