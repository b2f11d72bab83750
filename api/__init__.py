"""The twin HTTP API (FastAPI): alerts, acknowledgement, routing; token auth with roles."""

from api.app import create_app
from api.auth import ApiSettings, ApiToken, Principal, Role, TokenAuth, load_api_settings, parse_tokens
from api.errors import ApiConfigError, ApiError
from api.middleware import MAX_BODY_BYTES

__all__ = ["MAX_BODY_BYTES", "ApiConfigError", "ApiError", "ApiSettings", "ApiToken", "Principal", "Role",
           "TokenAuth", "create_app", "load_api_settings", "parse_tokens"]
