"""The twin HTTP API (FastAPI): alerts, acknowledgement, routing; token auth with roles."""

from api.app import create_app
from api.auth import ApiSettings, ApiToken, Principal, Role, TokenAuth, parse_tokens
from api.errors import ApiError

__all__ = ["ApiError", "ApiSettings", "ApiToken", "Principal", "Role", "TokenAuth", "create_app", "parse_tokens"]
