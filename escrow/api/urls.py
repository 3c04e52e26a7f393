"""Escrow API, mounted under /api/v1/escrow/."""

from django.urls import path

from escrow.api import views

urlpatterns = [
    path("escrow/chains/", views.EscrowChainsView.as_view(), name="escrow-chains"),
    path("escrow/categories/", views.CategoryListView.as_view(), name="escrow-categories"),
    path("escrow/products/", views.ProductListCreateView.as_view(), name="escrow-products"),
    path(
        "escrow/products/<int:product_id>/",
        views.ProductDetailView.as_view(),
        name="escrow-product",
    ),
    path(
        "escrow/products/<int:product_id>/images",
        views.ProductImageView.as_view(),
        name="escrow-product-images",
    ),
    path(
        "escrow/sellers/<int:seller_id>/reviews/",
        views.SellerReviewsView.as_view(),
        name="escrow-seller-reviews",
    ),
    path("escrow/cart/", views.CartView.as_view(), name="escrow-cart"),
    path(
        "escrow/cart/items/<int:product_id>", views.CartItemView.as_view(), name="escrow-cart-item"
    ),
    path("escrow/cart/checkout", views.CheckoutView.as_view(), name="escrow-checkout"),
    path("escrow/orders/", views.OrderListCreateView.as_view(), name="escrow-orders"),
    path("escrow/orders/<uuid:order_id>/", views.OrderDetailView.as_view(), name="escrow-order"),
    path(
        "escrow/orders/<uuid:order_id>/cancel",
        views.OrderCancelView.as_view(),
        name="escrow-order-cancel",
    ),
    path(
        "escrow/orders/<uuid:order_id>/ship",
        views.OrderShipView.as_view(),
        name="escrow-order-ship",
    ),
    path(
        "escrow/orders/<uuid:order_id>/confirm",
        views.OrderConfirmView.as_view(),
        name="escrow-order-confirm",
    ),
    path(
        "escrow/orders/<uuid:order_id>/dispute",
        views.OrderDisputeView.as_view(),
        name="escrow-order-dispute",
    ),
    path(
        "escrow/orders/<uuid:order_id>/refund",
        views.OrderRefundView.as_view(),
        name="escrow-order-refund",
    ),
    path(
        "escrow/orders/<uuid:order_id>/messages",
        views.OrderMessagesView.as_view(),
        name="escrow-order-messages",
    ),
    path(
        "escrow/orders/<uuid:order_id>/conditions/<int:condition_id>/tick",
        views.OrderConditionTickView.as_view(),
        name="escrow-order-condition-tick",
    ),
    path(
        "escrow/orders/<uuid:order_id>/review",
        views.OrderReviewView.as_view(),
        name="escrow-order-review",
    ),
    path(
        "escrow/orders/<uuid:order_id>/files/<int:file_id>",
        views.OrderFileView.as_view(),
        name="escrow-order-file",
    ),
    path(
        "escrow/orders/<uuid:order_id>/resolve",
        views.OrderResolveView.as_view(),
        name="escrow-order-resolve",
    ),
]
