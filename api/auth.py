"""Token authentication with roles for the twin API.

Tokens come from the environment, never the plant file:

    TWIN_API_TOKENS="alice:maintainer:s3cret-1,grafana:viewer:s3cret-2,ops:admin:s3cret-3"

A token may be given as its SHA-256 instead, so the environment of the service holds no
usable secret: `ops:admin:sha256:<64 hex digits>` (`twin alerts token-hash` prints it).

Each entry is `name:role:token`; the name is recorded as the actor of what the token
does (who acknowledged). Roles are ordered: viewer (read) < maintainer (acknowledge,
comment, resolve) < admin (routing, maintenance windows). Clients send
`Authorization: Bearer <token>`. No token or an unknown one is 401; a known token
whose role is too low is 403.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import ApiConfigError


class Role(enum.IntEnum):
    """What a token may do; a higher role includes the lower ones."""

    VIEWER = 1
    MAINTAINER = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One configured token."""

    name: str
    role: Role
    token: str  # as configured: the token itself, or "sha256:<hex>"

    def __repr__(self) -> str:  # never leak the secret into logs or tracebacks
        return f"ApiToken(name={self.name!r}, role={self.role.name.lower()})"

    @property
    def hashed(self) -> bool:
        """Whether only the token's SHA-256 is configured."""
        return self.token.startswith(HASH_PREFIX)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the token: what a presented token is compared with."""
        if self.hashed:
            return bytes.fromhex(self.token[len(HASH_PREFIX):])
        return token_digest(self.token)


HASH_PREFIX = "sha256:"


def token_digest(token: str) -> bytes:
    """The SHA-256 of a token (tokens are long random strings, so a plain hash is enough)."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    name: str
    role: Role


def parse_tokens(text: str) -> list[ApiToken]:
    """Parse 'name:role:token,...'; ApiConfigError says which entry is wrong (without echoing the secret)."""
    out: list[ApiToken] = []
    for i, entry in enumerate(e.strip() for e in text.split(",")):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ApiConfigError(f"TWIN_API_TOKENS entry {i + 1} must be name:role:token")
        name, role, token = parts
        try:
            r = Role[role.upper()]
        except KeyError:
            raise ApiConfigError(f"TWIN_API_TOKENS entry {i + 1} ({name}): "
                                 "role must be viewer, maintainer or admin") from None
        if token.startswith(HASH_PREFIX):
            if not re.fullmatch(r"[0-9a-f]{64}", token[len(HASH_PREFIX):]):
                raise ApiConfigError(f"TWIN_API_TOKENS entry {i + 1} ({name}): sha256: must be followed by "
                                     "64 lower-case hex digits")
        elif len(token) < 8:
            raise ApiConfigError(f"TWIN_API_TOKENS entry {i + 1} ({name}): token shorter than 8 characters")
        out.append(ApiToken(name, r, token))
    names = [t.name for t in out]
    if len(names) != len(set(names)):
        raise ApiConfigError("TWIN_API_TOKENS: names must be unique")
    return out


class ApiSettings(BaseSettings):
    """TWIN_API_* settings: the server's tokens and address, and the CLI's URL and token."""

    model_config = SettingsConfigDict(env_prefix="TWIN_API_", extra="ignore")

    tokens: SecretStr = SecretStr("")
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    url: str = "http://127.0.0.1:8080"
    token: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8080")
        return v

    def parsed_tokens(self) -> list[ApiToken]:
        """The configured tokens."""
        return parse_tokens(self.tokens.get_secret_value())


SECRET_SETTINGS = frozenset({"tokens", "token"})
"""Settings whose value an error message must not repeat."""


def load_api_settings(**overrides: Any) -> ApiSettings:
    """ApiSettings from the environment; ApiConfigError (a ConfigError) names each TWIN_API_* variable at fault.

    One line, for the CLI to print instead of a traceback, e.g. `invalid API settings:
    TWIN_API_PORT='abc': Input should be a valid integer, ...`. The value is quoted for plain
    settings and never for the tokens.
    """
    try:
        return ApiSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            name = f"TWIN_API_{field.upper()}"
            value = error.get("input")
            shown = ""
            if field not in SECRET_SETTINGS and isinstance(value, str):
                shown = "=" + repr(value if len(value) <= 40 else value[:40] + "…")
            problems.append(f"{name}{shown}: {error['msg'].removeprefix('Value error, ')}")
        raise ApiConfigError("invalid API settings: " + "; ".join(problems)) from None


class TokenAuth:
    """Looks tokens up in constant time and builds role-checking FastAPI dependencies."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        self._tokens = list(tokens)
        self.scheme = HTTPBearer(auto_error=False, description="TWIN_API_TOKENS: name:role:token")

    def identify(self, presented: str) -> Principal | None:
        """The principal for a token, or None."""
        found: Principal | None = None
        digest = token_digest(presented)
        for t in self._tokens:
            # compare_digest on every entry: the time taken does not reveal which one matched.
            if hmac.compare_digest(t.digest, digest):
                found = Principal(t.name, t.role)
        return found

    def require(self, role: Role) -> Callable[..., Principal]:
        """A dependency that returns the caller, or raises 401/403."""

        def dependency(credentials: HTTPAuthorizationCredentials | None = Depends(self.scheme)) -> Principal:  # noqa: B008
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                                    headers={"WWW-Authenticate": "Bearer"})
            principal = self.identify(credentials.credentials)
            if principal is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token",
                                    headers={"WWW-Authenticate": "Bearer"})
            if principal.role < role:
                raise HTTPException(status.HTTP_403_FORBIDDEN,
                                    f"{principal.name} is {principal.role.name.lower()}; "
                                    f"this needs {role.name.lower()}")
            return principal

        return dependency
