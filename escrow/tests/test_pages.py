"""The shop pages, rendered by the real views (a real anvil behind the order steps)."""

from __future__ import annotations

import json
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client

from chains.models import Asset
from chains.tests.support import user as dev_account
from escrow import services
from escrow.models import CartItem, Category, Order, Product
from escrow.tests.factories import UserFactory
from escrow.tests.support import feed, send

pytestmark = pytest.mark.django_db
BUYER, SELLER = dev_account(1), dev_account(2)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _wallet_tx(response) -> dict:
    """The transaction the page's first wallet button would send (its data-tx)."""
    html = response.content.decode()
    assert 'data-wallet-action="send"' in html
    start = html.index('data-tx="') + len('data-tx="')
    return json.loads(unescape(html[start : html.index('"', start)]))


def _product(**extra) -> Product:
    return services.product_create(
        seller=extra.pop("seller", None) or UserFactory(),
        title=extra.pop("title", "Jackfruit"),
        category_id=Category.objects.get_or_create(name="Fruit")[0].pk,
        unit=Product.Unit.PIECE,
        asset_id=Asset.objects.get(network="local-a", symbol="ETH").pk,
        price=Decimal("0.001"),
        shipping_fee=Decimal("0.0001"),
        quantity_available=4,
        payout_address=SELLER.address,
        **extra,
    )


def test_catalogue_and_product_pages_show_price_unit_and_stock(escrow_env):
    product = _product(region="Gazipur", conditions=["Ripe"])
    page = Client().get("/shop/?q=jack").content.decode()
    assert "Jackfruit" in page and "0.001 ETH" in page
    detail = Client().get(f"/shop/products/{product.pk}/").content.decode()
    assert "Gazipur" in detail and "Ripe" in detail and 'id="available">4<' in detail


def test_add_to_cart_then_the_cart_shows_the_summary_and_places_one_order(escrow_env):
    # given
    product = _product()
    buyer = UserFactory()
    client = _client(buyer)
    # when the buyer adds 2 and opens the cart
    client.post(f"/shop/products/{product.pk}/", {"quantity": 2})
    page = client.get("/shop/cart/").content.decode()
    # then subtotal 0.002, shipping 0.0001, fee 1 % of 0.0021, total
    for text in ("0.002 ETH", "0.0001 ETH", "0.000021 ETH", "0.002121 ETH"):
        assert text in page
    # when the buyer places the order
    answer = client.post(
        "/shop/cart/", {"seller": product.seller_id, "refund_address": BUYER.address}
    )
    # then the order page, the cart empty
    order = Order.objects.get(buyer=buyer)
    assert answer.status_code == 302 and answer["Location"] == f"/shop/orders/{order.pk}/"
    assert not CartItem.objects.filter(buyer=buyer).exists()


def test_order_page_walks_the_buyer_and_seller_through_their_steps(escrow_env):
    # given an order awaiting payment
    a, _ = escrow_env
    product = _product()
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, lines=[(product.pk, 1)], refund_address=BUYER.address
    )
    buyer_page, seller_page = _client(buyer), _client(product.seller)
    # then the buyer's page offers the deposit as a wallet button with the exact transaction
    tx = _wallet_tx(buyer_page.get(f"/shop/orders/{order.pk}/"))
    assert tx["action"] == "deposit" and tx["value"] == str(11 * 10**14 + 11 * 10**12)
    # when it is paid and confirmed, the seller ships with a form
    feed(a, "local-a", send(a, BUYER, tx))
    assert "Mark as shipped" in seller_page.get(f"/shop/orders/{order.pk}/").content.decode()
    seller_page.post(f"/shop/orders/{order.pk}/ship", {"tracking": "Bus parcel 77"})
    # and the buyer confirms; the page then offers the release
    buyer_page.post(f"/shop/orders/{order.pk}/confirm")
    html = buyer_page.get(f"/shop/orders/{order.pk}/").content.decode()
    assert "Bus parcel 77" in html and "Release the payment" in html
    assert 'id="release-countdown"' in html
    order.refresh_from_db()
    assert order.state == Order.State.DELIVERED


def test_order_page_conversation_and_dispute_form(escrow_env):
    a, _ = escrow_env
    product = _product()
    buyer = UserFactory()
    order = services.order_create(
        buyer=buyer, lines=[(product.pk, 1)], refund_address=BUYER.address
    )
    client = _client(buyer)
    html = client.get(f"/shop/orders/{order.pk}/").content.decode()
    start = html.index('data-tx="') + len('data-tx="')
    feed(
        a,
        "local-a",
        send(a, BUYER, json.loads(html[start : html.index('"', start)].replace("&quot;", '"'))),
    )
    # when the buyer writes, then disputes
    client.post(f"/shop/orders/{order.pk}/message", {"message": "When will it ship?"})
    client.post(f"/shop/orders/{order.pk}/dispute", {"dispute-message": "Nothing arrived."})
    html = client.get(f"/shop/orders/{order.pk}/").content.decode()
    # then both messages show, and the page offers the on-chain dispute
    assert "When will it ship?" in html and "Nothing arrived." in html
    assert "Open the dispute with my wallet" in html


def test_someone_elses_order_page_is_404(escrow_env):
    product = _product()
    order = services.order_create(
        buyer=UserFactory(), lines=[(product.pk, 1)], refund_address=BUYER.address
    )
    assert _client(UserFactory()).get(f"/shop/orders/{order.pk}/").status_code == 404


def test_sell_page_publishes_a_product(escrow_env):
    seller = UserFactory()
    client = _client(seller)
    answer = client.post(
        "/shop/sell/",
        {
            "kind": "product",
            "title": "Goat",
            "category": Category.objects.get_or_create(name="Livestock")[0].pk,
            "unit": "head",
            "asset": Asset.objects.get(network="local-a", symbol="TEST").pk,
            "price": "40",
            "shipping_fee": "0",
            "quantity_available": 3,
            "payout_address": SELLER.address,
        },
    )
    product = Product.objects.get(seller=seller)
    assert answer.status_code == 302 and answer["Location"] == f"/shop/products/{product.pk}/"
    assert "Goat" in client.get("/shop/sell/").content.decode()
