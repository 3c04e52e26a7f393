"""Orders on a real anvil: quotes, cart and checkout per seller, stock, cancel and expiry,
deposits off the terms or after a cancel, conditions, files, and who may see what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from chains.compiler import compile_contract
from chains.escrow import escrow_address
from chains.models import Asset
from chains.tests.support import user as dev_account
from core.api.errors import ApiError
from escrow import chain as escrow_chain
from escrow import services
from escrow.models import Category, Order, Product
from escrow.tests.factories import UserFactory
from escrow.tests.support import decoded, feed, send, test_token
from testing.support import race

pytestmark = pytest.mark.django_db
S = Order.State
BUYER, SELLER = dev_account(1), dev_account(2)


def _product(network="local-a", symbol="TEST", **extra) -> Product:
    asset = Asset.objects.get(network=network, symbol=symbol)
    fields = {
        "seller": extra.pop("seller", None) or UserFactory(),
        "title": "Mangoes",
        "category_id": Category.objects.get_or_create(name="Fruit")[0].pk,
        "unit": Product.Unit.KG,
        "asset_id": asset.pk,
        "price": Decimal("0.75") if symbol == "TEST" else Decimal("0.001"),
        "quantity_available": 5,
        "payout_address": SELLER.address,
        **extra,
    }
    return services.product_create(**fields)


def _order(buyer, product: Product, quantity: int) -> Order:
    return services.order_create(
        buyer=buyer, lines=[(product.pk, quantity)], refund_address=BUYER.address
    )


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _codes(exc: ApiError) -> str:
    return str(exc.get_codes())


# ------------------------------------------------------------------ quotes


def test_quote_fee_is_one_percent_of_subtotal_plus_shipping_rounded_down(escrow_env):
    # given 3 kg at 0.333333 with 0.1 shipping: net 1.099999, fee 0.010999(.99) → 0.010999
    product = _product(price=Decimal("0.333333"), shipping_fee=Decimal("0.1"))
    # when
    quote = services.order_quote(lines=[(product, 3)])
    # then
    assert quote.subtotal == Decimal("0.999999")
    assert quote.shipping_fee == Decimal("0.100000")
    assert quote.fee == Decimal("0.010999")
    assert quote.total == Decimal("1.110998")


def test_order_fixes_terms_and_release_time_by_the_chain_clock(escrow_env):
    # given the chain's clock ahead of the server's (time travel)
    a, _ = escrow_env
    a.travel(5000)
    product = _product()
    # when
    order = services.order_create(
        buyer=UserFactory(), lines=[(product.pk, 2)], refund_address=BUYER.address.lower()
    )
    # then
    assert order.release_at >= a.now() + 3600
    assert order.buyer_address == BUYER.address
    assert order.seller_address == SELLER.address
    assert order.ref.startswith("0x") and len(order.ref) == 66
    product.refresh_from_db()
    assert product.quantity_available == 3


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([(0, 1)], "product_unavailable"),
        ("own", "own_product"),
        ("zero", "invalid_quantity"),
        ("many", "out_of_stock"),
    ],
)
def test_order_refusals(escrow_env, lines, code):
    product = _product()
    buyer = UserFactory()
    if lines == "own":
        buyer, lines = product.seller, [(product.pk, 1)]
    elif lines == "zero":
        lines = [(product.pk, 0)]
    elif lines == "many":
        lines = [(product.pk, 6)]
    with pytest.raises(ApiError) as refused:
        services.order_create(buyer=buyer, lines=lines, refund_address=BUYER.address)
    assert _codes(refused.value) == code


def test_order_refund_address_must_be_an_address(escrow_env):
    with pytest.raises(ApiError) as refused:
        services.order_create(
            buyer=UserFactory(), lines=[(_product().pk, 1)], refund_address="nope"
        )
    assert _codes(refused.value) == "invalid_address"


# ------------------------------------------------------------------ cart and checkout


def test_checkout_makes_one_order_per_seller_with_the_summary(escrow_env):
    # given a cart with two products of one seller and one of another
    seller = UserFactory()
    rice = _product(seller=seller, title="Rice", price=Decimal("1"), shipping_fee=Decimal("0.5"))
    dal = _product(seller=seller, title="Dal", price=Decimal("2"), shipping_fee=Decimal("0.25"))
    other = _product(title="Ghee")
    buyer = UserFactory()
    api = _api(buyer)
    for product, quantity in ((rice, 2), (dal, 1), (other, 1)):
        assert (
            api.put(f"/api/v1/cart/items/{product.pk}", {"quantity": quantity}).status_code == 204
        )
    # when the buyer looks at the cart
    cart = api.get("/api/v1/cart/").json()
    # then one group per seller, each with its summary before paying
    assert [len(g["items"]) for g in cart] == [2, 1]
    assert cart[0]["quote"] == {
        "subtotal": "4.000000",
        "shipping_fee": "0.750000",
        "fee": "0.047500",
        "total": "4.797500",
        "fee_bps": 100,
        "symbol": "TEST",
    }
    # when checking out the first seller
    answer = api.post(
        "/api/v1/cart/checkout",
        {"seller": seller.pk, "refund_address": BUYER.address},
        format="json",
    )
    # then one order with both lines; the other seller's item stays in the cart
    assert answer.status_code == 201, answer.content
    order = answer.json()
    assert [line["title"] for line in order["lines"]] == ["Rice", "Dal"]
    assert order["total"] == "4.797500"
    assert [g["seller"]["id"] for g in api.get("/api/v1/cart/").json()] == [other.seller_id]


# ------------------------------------------------------------------ stock


def test_cancel_returns_stock_and_expiry_cancels_unpaid_orders(escrow_env):
    # given two orders taking 2 + 3 of 5
    product = _product()
    buyer = UserFactory()
    first = _order(buyer, product, 2)
    second = services.order_create(
        buyer=buyer, lines=[(product.pk, 3)], refund_address=BUYER.address
    )
    product.refresh_from_db()
    assert product.quantity_available == 0
    # when the buyer cancels one and the other's payment window passes
    services.order_cancel(order=first, actor=buyer)
    Order.objects.filter(pk=second.pk).update(pay_by=timezone.now() - timedelta(seconds=1))
    assert services.orders_expire_unpaid() == 1
    # then all the stock is back, and each cancellation says why
    product.refresh_from_db()
    assert product.quantity_available == 5
    second.refresh_from_db()
    assert second.state == S.CANCELLED
    assert second.events.last().cause == "payment_window_passed"


def test_cancel_by_the_seller_refused(escrow_env):
    order = services.order_create(
        buyer=UserFactory(), lines=[(_product().pk, 1)], refund_address=BUYER.address
    )
    with pytest.raises(ApiError) as refused:
        services.order_cancel(order=order, actor=order.seller)
    assert _codes(refused.value) == "not_your_step"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_orders_on_five_units_sell_exactly_five(postgres_url, escrow_env):
    # given 5 units and 20 buyers ordering 1 each at the same moment
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    product = _product()
    buyers = [UserFactory() for _ in range(20)]

    def order(i: int):
        return services.order_create(
            buyer=buyers[i], lines=[(product.pk, 1)], refund_address=BUYER.address
        ).pk

    # when
    results = race(20, order)
    # then exactly five orders, the others refused out of stock, nothing oversold
    placed = [r for r in results if not isinstance(r, str | dict | list)]
    assert len(placed) == 5, results
    assert all("out_of_stock" in str(r) for r in results if r not in placed), results
    product.refresh_from_db()
    assert product.quantity_available == 0
    assert Order.objects.filter(lines__product=product).count() == 5


# ------------------------------------------------------------------ deposits


def _deposit(chain, order_json_step_source, key=BUYER):
    """Approve if asked, then deposit, as next_action says; returns the deposit receipt."""
    api, order_id = order_json_step_source
    step = api.get(f"/api/v1/orders/{order_id}/").json()["next_action"]
    if step["action"] == "approve":
        send(chain, key, step)
        step = api.get(f"/api/v1/orders/{order_id}/").json()["next_action"]
    assert step["action"] == "deposit", step
    return send(chain, key, step)


def test_native_coin_order_is_paid_with_value_and_no_approve(escrow_env):
    # given a product priced in ETH
    a, _ = escrow_env
    product = _product(symbol="ETH")
    buyer = UserFactory()
    order = _order(buyer, product, 2)
    api = _api(buyer)
    # when
    step = api.get(f"/api/v1/orders/{order.pk}/").json()["next_action"]
    # then the deposit carries the total as value, in wei
    assert step["action"] == "deposit"
    assert step["value"] == str(2 * 10**15 + 2 * 10**13)  # 0.002 + 1 %
    feed(a, "local-a", send(a, BUYER, step))
    order.refresh_from_db()
    assert order.state == S.FUNDED


def test_deposit_off_the_terms_is_flagged_and_does_not_fund(escrow_env):
    # given an order, and a deposit naming its ref with a smaller fee than agreed
    a, _ = escrow_env
    product = _product(symbol="ETH")
    order = services.order_create(
        buyer=UserFactory(), lines=[(product.pk, 1)], refund_address=BUYER.address
    )
    escrow = a.w3.eth.contract(
        address=escrow_address("local-a"), abi=compile_contract("Escrow").abi
    )
    total = 10**15 + 10**13
    data = escrow.encode_abi(
        "deposit",
        args=[
            bytes.fromhex(order.ref[2:]),
            "0x" + "00" * 20,
            BUYER.address,
            SELLER.address,
            total,
            0,
            order.release_at,
        ],
    )
    # when it is confirmed
    feed(a, "local-a", a.send(BUYER, escrow.address, data, value=total))
    # then the order is not funded and is flagged for staff
    order.refresh_from_db()
    assert (order.state, order.flag_reason, order.onchain_id) == (
        S.CREATED,
        "deposit_off_terms",
        "",
    )


def test_deposit_confirmed_after_cancel_is_honoured_and_flagged(escrow_env):
    # given an order paid on chain, then cancelled by expiry before the watcher saw it
    a, _ = escrow_env
    product = _product(symbol="ETH")
    buyer = UserFactory()
    order = _order(buyer, product, 2)
    receipt = _deposit(a, (_api(buyer), order.pk))
    Order.objects.filter(pk=order.pk).update(pay_by=timezone.now() - timedelta(seconds=1))
    services.orders_expire_unpaid()
    product.refresh_from_db()
    assert product.quantity_available == 5
    # when the deposit is confirmed
    feed(a, "local-a", receipt)
    # then funded, flagged, and the stock taken again
    order.refresh_from_db()
    assert (order.state, order.flag_reason) == (S.FUNDED, "funded_after_cancel")
    product.refresh_from_db()
    assert product.quantity_available == 3


def test_the_same_deposit_event_twice_changes_nothing(escrow_env):
    a, _ = escrow_env
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, lines=[(_product(symbol="ETH").pk, 1)], refund_address=BUYER.address
    )
    receipt = _deposit(a, (_api(buyer), order.pk))
    feed(a, "local-a", receipt)
    feed(a, "local-a", receipt)
    assert order.events.filter(to_state=S.FUNDED).count() == 1


def test_events_of_another_contract_are_ignored(escrow_env):
    # given a deposit event whose contract is not an Escrow this platform deployed
    a, _ = escrow_env
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, lines=[(_product(symbol="ETH").pk, 1)], refund_address=BUYER.address
    )
    (event,) = decoded(a, "local-a", _deposit(a, (_api(buyer), order.pk)))
    forged = type(event)(**{**event.__dict__, "contract": "0x" + "99" * 20})
    # when
    escrow_chain.on_chain_event(forged)
    # then
    order.refresh_from_db()
    assert order.state == S.CREATED


# ------------------------------------------------------------------ conditions, files, privacy


def _funded(escrow_env, **product_extra) -> tuple[Order, object]:
    a, _ = escrow_env
    buyer = UserFactory()
    product = _product(symbol="ETH", **product_extra)
    order = _order(buyer, product, 1)
    feed(a, "local-a", _deposit(a, (_api(buyer), order.pk)))
    order.refresh_from_db()
    return order, a


def test_conditions_are_copied_and_ticked_by_each_side_with_evidence(escrow_env):
    # given a service with a condition, ordered and paid
    order, _ = _funded(escrow_env, conditions=["Fence repaired along 40 m"])
    (condition,) = order.conditions.all()
    evidence = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    # when the seller ticks with a photo, then the buyer ticks
    seller_api, buyer_api = _api(order.seller), _api(order.buyer)
    answer = seller_api.post(
        f"/api/v1/orders/{order.pk}/conditions/{condition.pk}/tick",
        {"files": [evidence]},
        format="multipart",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["conditions"][0]["met"] is False
    done = buyer_api.post(f"/api/v1/orders/{order.pk}/conditions/{condition.pk}/tick")
    # then met, with the evidence typed by its content
    (ticked,) = done.json()["conditions"]
    assert ticked["met"] is True
    assert ticked["evidence"][0]["content_type"] == "image/png"
    # and the file is served to the parties only
    url = f"/api/v1/orders/{order.pk}/files/{ticked['evidence'][0]['id']}"
    assert buyer_api.get(url).status_code == 200
    assert _api(UserFactory()).get(url).status_code == 404


def test_a_file_that_is_no_allowed_type_is_refused(escrow_env):
    order, _ = _funded(escrow_env)
    answer = _api(order.buyer).post(
        f"/api/v1/orders/{order.pk}/messages",
        {"message": "see attached", "files": [SimpleUploadedFile("x.pdf", b"MZ\x90\x00\xff\xfe")]},
        format="multipart",
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_file"


def test_non_parties_get_404_everywhere(escrow_env):
    order, _ = _funded(escrow_env)
    stranger = _api(UserFactory())
    for method, path in [
        ("get", ""),
        ("post", "ship"),
        ("post", "confirm"),
        ("post", "dispute"),
        ("post", "refund"),
        ("get", "messages"),
        ("post", "cancel"),
    ]:
        answer = getattr(stranger, method)(f"/api/v1/orders/{order.pk}/{path}")
        assert answer.status_code == 404, (path, answer.content)
    assert stranger.get("/api/v1/orders/").json()["count"] == 0


def test_steps_out_of_turn_are_refused_with_codes(escrow_env):
    order, _ = _funded(escrow_env)
    buyer_api, seller_api = _api(order.buyer), _api(order.seller)
    assert (
        buyer_api.post(f"/api/v1/orders/{order.pk}/ship", {"tracking": "x"}).json()["code"]
        == "not_your_step"
    )
    assert (
        seller_api.post(f"/api/v1/orders/{order.pk}/ship", {"tracking": " "}).json()["code"]
        == "tracking_required"
    )
    assert seller_api.post(f"/api/v1/orders/{order.pk}/confirm").json()["code"] == ("not_your_step")
    assert buyer_api.post(f"/api/v1/orders/{order.pk}/review", {"rating": 5}).json()["code"] == (
        "wrong_state"
    )


def test_dispute_after_the_release_time_is_refused(escrow_env):
    order, a = _funded(escrow_env)
    a.travel(order.release_at - a.now() + 1)
    answer = _api(order.buyer).post(f"/api/v1/orders/{order.pk}/dispute", {"message": "Too late?"})
    assert answer.status_code == 409 and answer.json()["code"] == "dispute_too_late"


def test_seller_refund_returns_everything_and_the_stock_when_not_shipped(escrow_env):
    # given a paid order the seller cannot fulfil
    order, a = _funded(escrow_env)
    product = order.lines.get().product
    before = a.w3.eth.get_balance(BUYER.address)
    step = _api(order.seller).post(f"/api/v1/orders/{order.pk}/refund").json()["next_action"]
    assert step["action"] == "refund"
    # when the seller sends it and it is confirmed
    feed(a, "local-a", send(a, SELLER, step))
    # then refunded in full, stock back
    order.refresh_from_db()
    assert order.state == S.REFUNDED
    assert a.w3.eth.get_balance(BUYER.address) - before == 10**15 + 10**13
    product.refresh_from_db()
    assert product.quantity_available == 5


def test_relayer_release_never_touches_a_disputed_order(escrow_env):
    # given a disputed order past its release time
    order, a = _funded(escrow_env)
    step = (
        _api(order.buyer)
        .post(f"/api/v1/orders/{order.pk}/dispute", {"message": "Broken"})
        .json()["next_action"]
    )
    feed(a, "local-a", send(a, BUYER, step))
    a.travel(order.release_at - a.now() + 10)
    # when / then
    assert services.orders_release_due() == 0


def test_token_order_next_action_approves_exactly_the_total(escrow_env):
    _, b = escrow_env
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, lines=[(_product(network="local-b").pk, 2)], refund_address=BUYER.address
    )
    step = _api(buyer).get(f"/api/v1/orders/{order.pk}/").json()["next_action"]
    token = test_token(b, "local-b")
    assert step["action"] == "approve" and step["to"] == token.address
    send(b, BUYER, step)
    assert token.functions.allowance(BUYER.address, escrow_address("local-b")).call() == 1_515_000


def test_a_transition_tells_the_other_party_by_email_on_commit(
    escrow_env, django_capture_on_commit_callbacks, mailoutbox
):
    # given an order awaiting payment, both parties with a confirmed address
    product = _product()
    buyer = UserFactory(email="buyer@example.com")
    for user in (buyer, product.seller):
        EmailAddress.objects.create(user=user, email=user.email, verified=True)
    order = _order(buyer, product, 1)
    # when the buyer cancels it, and the commit runs its callbacks (the notice task, eagerly)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order=order, actor=buyer)
    # then the seller was told, with a link to the order page; the buyer did it
    (sent,) = mailoutbox
    assert sent.to == [product.seller.email]
    assert "was cancelled before payment" in sent.subject
    assert f"/shop/orders/{order.pk}/" in sent.body


def test_a_retried_order_with_its_idempotency_key_takes_the_stock_once(escrow_env):
    # given: a buyer whose first "order 2 kg" answer was lost on the way
    product = _product()
    api = _api(UserFactory())
    api.credentials(HTTP_IDEMPOTENCY_KEY="order-5d1c")
    body = {"product": product.pk, "quantity": 2, "refund_address": BUYER.address}
    first = api.post("/api/v1/orders/", body, format="json")
    assert first.status_code == 201, first.content
    # when: the app retries with the same key and body
    retry = api.post("/api/v1/orders/", body, format="json")
    # then: the same order, replayed; 2 kg taken once
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    product.refresh_from_db()
    assert product.quantity_available == 3
    # and the same key for another quantity is refused
    other = api.post("/api/v1/orders/", {**body, "quantity": 1}, format="json")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_a_sellers_public_page_shows_their_shop_rating_and_latest_reviews(escrow_env, client):
    # given: a seller with one released order, rated 4 with a text
    seller = UserFactory()
    product = _product(seller=seller)
    buyer = UserFactory()
    order = _order(buyer, product, 1)
    Order.objects.filter(pk=order.pk).update(state=S.RELEASED)  # as the chain would have it
    order.refresh_from_db()
    services.review_create(order=order, buyer=buyer, rating=4, text="Sweet mangoes")
    # when
    page = client.get(f"/u/{seller.pk}/").content.decode()
    # then
    assert 'data-rating="4.0" data-review-count="1"' in page
    assert "Sweet mangoes" in page and buyer.public_name in page
    # and someone who never sold in the shop gets no shop section
    assert "data-seller-reviews" not in client.get(f"/u/{buyer.pk}/").content.decode()
