"""API keys for the governed API: `Authorization: Bearer <key>` against API_KEYS, roles read < write < admin.

A key is compared with every configured key in constant time (digests of equal length, no early exit), so
neither timing nor the order of API_KEYS tells an attacker anything. A key in the query string is refused before
routing, and blanked from the request first: uvicorn's access log prints the query string of this same request,
so the key never reaches a log line.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import Callable, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config.settings import ApiKey
from retail_sync.entrypoints.problems import ApiProblem, problem

Role = Literal["read", "write", "admin"]
ROLE_RANK = {"read": 0, "write": 1, "admin": 2}
API_PREFIX = "/api/"
# Query parameters that clients commonly use for credentials.
CREDENTIAL_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token", "auth", "authorization"})

# Documents the scheme in OpenAPI (the "Authorize" button at /docs); the check itself is `require_role`.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key from API_KEYS (name:key:role).")


@dataclass(frozen=True)
class Caller:
    name: str  # the key's name from API_KEYS: who did it, in the audit trail
    role: Role


def authenticate(authorization: str | None, api_keys: tuple[ApiKey, ...]) -> Caller:
    """The caller a bearer header belongs to; ApiProblem 401 when it is missing or matches no key."""
    if not authorization:
        raise ApiProblem(401, "Unauthorized", "send Authorization: Bearer <api key>",
                         headers={"WWW-Authenticate": 'Bearer realm="retail-sync"'})
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiProblem(401, "Unauthorized", "the Authorization header must be Bearer <api key>",
                         headers={"WWW-Authenticate": 'Bearer realm="retail-sync", error="invalid_request"'})
    presented_digest = _digest(presented.strip())
    found = None
    for api_key, digest in _configured_digests(api_keys):
        if hmac.compare_digest(presented_digest, digest) and found is None:
            found = api_key
    if found is None:
        raise ApiProblem(401, "Unauthorized", "the API key is not valid",
                         headers={"WWW-Authenticate": 'Bearer realm="retail-sync", error="invalid_token"'})
    return Caller(name=found.name, role=found.role)


def require_role(role: Role) -> Callable[[Request], Caller]:
    """A FastAPI dependency: the authenticated caller, if its role is at least `role` (else 401 / 403)."""

    # `_scheme` only puts the bearer scheme in OpenAPI; the raw header is read to say precisely what is wrong.
    def dependency(request: Request, _scheme: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> Caller:
        caller = authenticate(request.headers.get("authorization"), request.app.state.services.settings.api_keys)
        if ROLE_RANK[caller.role] < ROLE_RANK[role]:
            raise ApiProblem(403, "Forbidden", f"this needs the {role} role; the key {caller.name!r} has {caller.role}")
        return caller

    return dependency


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@functools.lru_cache(maxsize=8)
def _configured_digests(api_keys: tuple[ApiKey, ...]) -> tuple[tuple[ApiKey, bytes], ...]:
    """(key, digest) per configured key, hashed once per API_KEYS rather than on every request. Keyed by the
    settings' tuple itself, so settings with other keys (tests, a reload) get their own digests."""
    return tuple((api_key, _digest(api_key.key.get_secret_value())) for api_key in api_keys)


class QueryCredentialGuard:
    """ASGI middleware: an /api/ request with a credential-like query parameter is answered 400 unrouted."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if any(name.lower() in CREDENTIAL_PARAMETERS for name, _ in pairs):
                # In place: the server's access log reads this very scope after the response.
                scope["query_string"] = urlencode(
                    [(name, "[redacted]" if name.lower() in CREDENTIAL_PARAMETERS else value) for name, value in pairs]
                ).encode("latin-1")
                response = problem(400, "Credentials In Query String",
                                   "API keys go in the Authorization: Bearer header, never in the URL "
                                   "(URLs end up in logs); this key should now be treated as exposed")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
