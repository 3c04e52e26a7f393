"""Shop pages, under /shop/."""

from django.urls import path

from escrow import views

urlpatterns = [
    path("shop/", views.catalogue, name="shop-catalogue"),
    path("shop/products/<int:product_id>/", views.product, name="shop-product"),
    path("shop/cart/", views.cart, name="shop-cart"),
    path("shop/cart/<int:product_id>/remove", views.cart_remove, name="shop-cart-remove"),
    path("shop/orders/", views.orders, name="shop-orders"),
    path("shop/orders/<uuid:order_id>/", views.order, name="shop-order"),
    path(
        "shop/orders/<uuid:order_id>/files/<int:file_id>",
        views.order_file,
        name="shop-order-file",
    ),
    path("shop/orders/<uuid:order_id>/<str:step>", views.order_step, name="shop-order-step"),
    path("shop/sell/", views.sell, name="shop-sell"),
]
