"""API layer: who is calling — She-Ra bearer tokens (stored hashed) and JWTs issued by the platform portal.

Tokens are ``shera_`` + 32 random url-safe bytes, stored as SHA-256; the bootstrap token from the settings
becomes a platform-admin token on first start (idempotent). Portal JWTs are checked with PyJWT against the
configured key, each key pinned to its one algorithm (HS256 secret, RS256 public key), so ``alg: none`` and
algorithm-confusion tokens are refused. Required claims: ``tenant`` (id or name), ``role``, ``sub``, ``exp``;
``aud`` is checked when ``jwt_audience`` is set.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from shera.model.records import Principal, Role
from shera.settings import Settings
from shera.store import tenants, tokens
from shera.store.db import Database

if TYPE_CHECKING:
    from jwt.types import Options

TOKEN_PREFIX = "shera_"  # noqa: S105 - a prefix, not a secret
REQUIRED_CLAIMS = ("tenant", "role", "sub", "exp")


class Unauthorized(Exception):
    """The credentials are missing, unknown, revoked, expired or forged; the message says which."""


def new_token() -> str:
    """A fresh API token (shown once to its owner, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def bootstrap(settings: Settings, db: Database) -> bool:
    """Store ``settings.bootstrap_token`` as a platform-admin token unless it already is; True when added."""
    if not settings.bootstrap_token:
        return False
    return tokens.ensure_token(
        db,
        tenant_id=None,
        name="bootstrap",
        role=Role.ADMIN,
        token_hash=tokens.hash_token(settings.bootstrap_token),
    )


class Authenticator:
    """Turns an ``Authorization`` header value into a ``Principal``. Thread-safe (no mutable state)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self._db = db
        self._audience = settings.jwt_audience
        self._keys: dict[str, str] = {}
        if settings.jwt_hs256_secret:
            self._keys["HS256"] = settings.jwt_hs256_secret
        if settings.jwt_rs256_public_key:
            self._keys["RS256"] = settings.jwt_rs256_public_key

    def authenticate(self, credentials: str | None) -> Principal:
        """The caller of a bearer credential; ``Unauthorized`` with the reason otherwise."""
        if not credentials:
            raise Unauthorized("missing bearer token")
        if not credentials.startswith(TOKEN_PREFIX) and credentials.count(".") == 2 and self._keys:
            return self._from_jwt(credentials)
        principal = tokens.principal_for(self._db, tokens.hash_token(credentials))
        if principal is None:
            raise Unauthorized("unknown or revoked token")
        return principal

    def _from_jwt(self, token: str) -> Principal:
        import jwt  # only with a portal key configured: PyJWT loads ``cryptography`` (~10 MB resident)

        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed JWT: {exc}") from exc
        key = self._keys.get(str(alg))
        if key is None:
            raise Unauthorized(f"JWT algorithm {alg!r} is not accepted")
        options: Options = {"require": list(REQUIRED_CLAIMS), "verify_aud": bool(self._audience)}
        try:
            claims = jwt.decode(token, key, algorithms=[str(alg)], audience=self._audience, options=options)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid JWT: {exc}") from exc
        try:
            role = Role(str(claims["role"]))
        except ValueError as exc:
            raise Unauthorized(
                f"JWT role {claims['role']!r} is not one of {[r.value for r in Role]}"
            ) from exc
        tenant = tenants.find_tenant(self._db, str(claims["tenant"]))
        if tenant is None:
            raise Unauthorized("JWT names an unknown tenant")
        return Principal(subject=f"jwt:{claims['sub']}", role=role, tenant_id=tenant.id)
