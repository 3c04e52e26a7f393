"""Pages of the oracle: the home page, which shows the live prices."""

from django.urls import path

from oracle import views

urlpatterns = [
    path("", views.home, name="home"),
]
