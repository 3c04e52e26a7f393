from django.apps import AppConfig


class SwapsConfig(AppConfig):
    """The atomic swap state machine and disputes."""

    name = "swaps"
