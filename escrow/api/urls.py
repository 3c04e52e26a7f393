"""Escrow API, mounted at the paths issue 17 names under /api/v1/ (categories/, products/,
orders/, ...): clients rely on them."""

from django.urls import path

from escrow.api import views

urlpatterns = [
    path("categories/", views.CategoryListView.as_view(), name="escrow-categories"),
    path("products/", views.ProductListCreateView.as_view(), name="escrow-products"),
    path(
        "products/<int:product_id>/",
        views.ProductDetailView.as_view(),
        name="escrow-product",
    ),
    path(
        "products/<int:product_id>/images",
        views.ProductImageView.as_view(),
        name="escrow-product-images",
    ),
    path(
        "sellers/<int:seller_id>/reviews/",
        views.SellerReviewsView.as_view(),
        name="escrow-seller-reviews",
    ),
    path("cart/", views.CartView.as_view(), name="escrow-cart"),
    path("cart/items/<int:product_id>", views.CartItemView.as_view(), name="escrow-cart-item"),
    path("cart/checkout", views.CheckoutView.as_view(), name="escrow-checkout"),
    path("orders/", views.OrderListCreateView.as_view(), name="escrow-orders"),
    path("orders/<uuid:order_id>/", views.OrderDetailView.as_view(), name="escrow-order"),
    path(
        "orders/<uuid:order_id>/cancel",
        views.OrderCancelView.as_view(),
        name="escrow-order-cancel",
    ),
    path(
        "orders/<uuid:order_id>/ship",
        views.OrderShipView.as_view(),
        name="escrow-order-ship",
    ),
    path(
        "orders/<uuid:order_id>/confirm",
        views.OrderConfirmView.as_view(),
        name="escrow-order-confirm",
    ),
    path(
        "orders/<uuid:order_id>/dispute",
        views.OrderDisputeView.as_view(),
        name="escrow-order-dispute",
    ),
    path(
        "orders/<uuid:order_id>/refund",
        views.OrderRefundView.as_view(),
        name="escrow-order-refund",
    ),
    path(
        "orders/<uuid:order_id>/messages",
        views.OrderMessagesView.as_view(),
        name="escrow-order-messages",
    ),
    path(
        "orders/<uuid:order_id>/conditions/<int:condition_id>/tick",
        views.OrderConditionTickView.as_view(),
        name="escrow-order-condition-tick",
    ),
    path(
        "orders/<uuid:order_id>/review",
        views.OrderReviewView.as_view(),
        name="escrow-order-review",
    ),
    path(
        "orders/<uuid:order_id>/files/<int:file_id>",
        views.OrderFileView.as_view(),
        name="escrow-order-file",
    ),
    path(
        "orders/<uuid:order_id>/resolve",
        views.OrderResolveView.as_view(),
        name="escrow-order-resolve",
    ),
]
