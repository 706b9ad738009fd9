"""Store layer: API tokens, kept only as SHA-256 digests; ``tenant_id`` NULL means a platform admin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from shera.model.records import Principal, Role
from shera.store.convert import aware
from shera.store.db import Database
from shera.store.errors import NotFound
from shera.store.models import Token


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token: never the token or its digest."""

    id: str
    tenant_id: str | None
    name: str
    role: Role
    created_at: datetime
    revoked: bool


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 (tokens are 32 random bytes, so no salt or stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: Token) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        role=Role(row.role),
        created_at=aware(row.created_at),
        revoked=row.revoked,
    )


def create_token(db: Database, *, tenant_id: str | None, name: str, role: Role, token_hash: str) -> TokenInfo:
    """Store a new token's digest; ``tenant_id=None`` makes a platform-admin token."""
    with db.transaction() as session:
        row = Token(tenant_id=tenant_id, name=name, role=role.value, token_hash=token_hash)
        session.add(row)
        session.flush()
        return _info(row)


def ensure_token(db: Database, *, tenant_id: str | None, name: str, role: Role, token_hash: str) -> bool:
    """Store the digest unless it is already stored (idempotent, for the bootstrap token); True when added."""
    with db.transaction() as session:
        if session.scalars(select(Token.id).where(Token.token_hash == token_hash)).first() is not None:
            return False
        session.add(Token(tenant_id=tenant_id, name=name, role=role.value, token_hash=token_hash))
        return True


def principal_for(db: Database, token_hash: str) -> Principal | None:
    """Who holds the token with this digest; ``None`` when unknown or revoked."""
    with db.read() as session:
        row = session.scalars(select(Token).where(Token.token_hash == token_hash)).first()
        if row is None or row.revoked:
            return None
        return Principal(
            subject=f"token:{row.name}",
            role=Role(row.role),
            tenant_id=row.tenant_id,
            platform_admin=row.tenant_id is None,
        )


def list_tokens(db: Database, tenant_id: str) -> list[TokenInfo]:
    with db.transaction() as session:
        rows = session.scalars(select(Token).where(Token.tenant_id == tenant_id).order_by(Token.created_at))
        return [_info(row) for row in rows]


def revoke_token(db: Database, token_id: str, tenant_id: str) -> None:
    """Revoke one of the tenant's tokens (idempotent); ``NotFound`` when the tenant has no such token."""
    with db.transaction() as session:
        result = session.execute(
            update(Token).where(Token.id == token_id, Token.tenant_id == tenant_id).values(revoked=True)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("token not found")
