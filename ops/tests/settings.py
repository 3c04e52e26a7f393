"""The test settings with the ops app installed (until config/settings lists it)."""

from config.settings.test import *  # noqa: F403
from config.settings.test import INSTALLED_APPS

if "ops" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "ops"]
