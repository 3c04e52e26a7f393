"""OpenAPI description of the project's JWT authentication class."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JwtScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JwtAuthentication"
    name = "jwtAuth"
