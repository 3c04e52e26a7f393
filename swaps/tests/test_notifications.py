"""Notifications that reach people: the unread badge, the notification page, mail to a
confirmed address only (also for a wallet-only account that adds one), and Web Push checked
against a local push endpoint that verifies the VAPID signature and decrypts the payload."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from swaps import services
from swaps.models import Notification, PushSubscription
from swaps.tasks import send_notification_email
from swaps.tests.factories import make_swap, party
from testing.push_server import PushService

pytestmark = pytest.mark.django_db


@pytest.fixture
def vapid(settings) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = pem
    settings.WEBPUSH_SUBJECT = "mailto:ops@example.com"
    return pem


def test_the_badge_counts_unread_notifications_on_every_page(client, swap_env):
    # given: the maker has one unread notice ("taken")
    swap, *_ = make_swap()
    client.force_login(swap.maker)
    # when
    html = client.get("/market/").content.decode()
    # then
    assert 'id="unread-badge"' in html and 'data-unread="1"' in html
    client.post("/notifications/", {"all": "1"})
    assert 'data-unread="0"' in client.get("/market/").content.decode()


def test_the_notification_page_lists_notices_and_opening_one_reads_it(client, swap_env):
    swap, *_ = make_swap()
    note = Notification.objects.get(user=swap.maker, kind="taken")
    client.force_login(swap.maker)
    page = client.get("/notifications/").content.decode()
    assert "Your listing was taken" in page and f"/notifications/{note.pk}/open" in page
    opened = client.get(f"/notifications/{note.pk}/open")
    assert opened.status_code == 302 and opened["Location"] == f"/swaps/{swap.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    client.force_login(party(3)[0])
    assert client.get(f"/notifications/{note.pk}/open").status_code == 404


def test_mail_goes_only_to_a_confirmed_address_also_for_a_wallet_only_user(
    swap_env, mailoutbox, django_capture_on_commit_callbacks
):
    # given: a wallet-only maker (no address), who later adds one
    maker, maker_key = party(1)
    maker.email = ""
    maker.save(update_fields=["email"])
    swap, *_ = make_swap()
    note = Notification.objects.get(user=maker, kind="taken")
    send_notification_email(note.pk)
    assert mailoutbox == []
    address = EmailAddress.objects.create(user=maker, email="m@example.com", verified=False)
    # when: the address is not confirmed yet
    send_notification_email(note.pk)
    # then: nothing
    assert mailoutbox == []
    # when: confirmed, the next notice is queued and mailed to it
    address.verified = True
    address.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.swap_message_post(swap=swap, user=swap.taker, body="hello")
    assert [m.to for m in mailoutbox] == [["m@example.com"]]
    assert "The other party wrote to you" in mailoutbox[0].subject


def test_a_push_reaches_the_browser_signed_and_encrypted(api, swap_env, vapid):
    # given: the maker's browser subscribed at a local push service
    maker, _ = party(1)
    with PushService() as service:
        api.force_authenticate(maker)
        key = api.get("/api/v1/push/key").json()
        assert key["enabled"] is True and len(key["public_key"]) == 87
        assert (
            api.post("/api/v1/push/subscriptions", service.subscribe(), format="json").status_code
            == 201
        )
        # when: a swap of theirs is taken (a notice that needs them)
        swap, *_ = make_swap()
        note = Notification.objects.get(user=maker, kind="taken")
        sent = services.notification_push_send(notification_id=note.pk)
        # then: the push service verified the VAPID JWT and the browser's keys decrypt it
        assert service.errors == [] and sent == 1
        [got] = service.received
        assert got["key"] == key["public_key"]
        assert got["claims"]["sub"] == "mailto:ops@example.com"
        assert got["payload"]["body"] == "Your listing was taken; the buyer locks first."
        assert got["payload"]["url"] == f"/notifications/{note.pk}/open"


def test_a_push_in_the_readers_language_and_a_dropped_subscription_is_forgotten(swap_env, vapid):
    maker, _ = party(1)
    maker.preferred_language = "bn"
    maker.save(update_fields=["preferred_language"])
    with PushService() as service:
        alive, dropped = service.subscribe(), service.subscribe()
        for sub in (alive, dropped):
            services.push_subscribe(user=maker, endpoint=sub["endpoint"], **sub["keys"])
        service.gone.add(dropped["endpoint"].removeprefix(service.origin))
        swap, *_ = make_swap()
        note = Notification.objects.get(user=maker, kind="taken")
        assert services.notification_push_send(notification_id=note.pk) == 1
        assert "আপনার লিস্টিং নেওয়া হয়েছে" in service.received[0]["payload"]["body"]
        assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
            alive["endpoint"]
        ]


def test_a_push_signed_with_another_key_is_refused_by_the_endpoint(swap_env, vapid, settings):
    # given: the subscription's endpoint, and a server whose VAPID key then changes
    maker, _ = party(1)
    with PushService() as service:
        sub = service.subscribe()
        services.push_subscribe(user=maker, endpoint=sub["endpoint"], **sub["keys"])
        service.browsers[sub["endpoint"].removeprefix(service.origin)].auth = b"\x00" * 16
        swap, *_ = make_swap()
        note = Notification.objects.get(user=maker, kind="taken")
        # when: the browser's keys no longer match (a tampered or foreign payload)
        with pytest.raises(OSError):
            services.notification_push_send(notification_id=note.pk)
        # then: the endpoint could not decrypt it and refused it
        assert service.received == [] and "InvalidTag" in service.errors[0]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([None, None], "invalid"),
        ({"endpoint": None}, "null"),
        ({}, "required"),
        ({"endpoint": "not a url"}, "invalid"),
    ],
)
def test_unsubscribing_with_a_malformed_body_is_a_400_with_a_stable_code(api, swap_env, body, code):
    # given: a subscribed browser
    maker, _ = party(1)
    services.push_subscribe(
        user=maker, endpoint="https://push.example/1", p256dh="k" * 87, auth="a" * 22
    )
    api.force_authenticate(maker)
    # when
    answer = api.post("/api/v1/push/subscriptions/delete", body, format="json")
    # then: refused with a stable code, and the subscription is kept
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert PushSubscription.objects.filter(user=maker).count() == 1


def test_unsubscribing_forgets_that_browser_only(api, swap_env):
    maker, _ = party(1)
    for n in (1, 2):
        services.push_subscribe(
            user=maker, endpoint=f"https://push.example/{n}", p256dh="k" * 87, auth="a" * 22
        )
    api.force_authenticate(maker)
    answer = api.post(
        "/api/v1/push/subscriptions/delete", {"endpoint": "https://push.example/1"}, format="json"
    )
    assert answer.status_code == 204
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://push.example/2"
    ]
