"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from core.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django_asgi_app = get_asgi_application()

from django.urls import get_resolver  # noqa: E402

# Import the URLconf (and every view module it names: web3, vyper, the ICP client) now, not
# in the first request each process serves: that request took seconds, with every request
# behind it waiting on the import lock.
get_resolver().url_patterns  # noqa: B018 (the access imports it)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.boundary import BodySizeLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies over REQUEST_MAX_BYTES are refused before Django spools them to disk.
        "http": BodySizeLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
