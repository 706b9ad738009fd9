"""Authentication: She-Ra tokens (hashed, revocable, bootstrap) and portal JWTs (HS256 / RS256)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from shera.store.tokens import hash_token
from tests.api.conftest import BOOTSTRAP, HS_SECRET, Api, RsaKeys, Tenant

ME = "/api/v1/projects"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(tenant: str, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant, "role": "developer", "sub": "adora", "exp": int(time.time()) + 300, **extra}


def hs256(payload: dict[str, Any], secret: str = HS_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def rs256(payload: dict[str, Any], keys: RsaKeys) -> str:
    return jwt.encode(payload, keys.private_pem, algorithm="RS256")


def test_no_token_is_401_with_bearer_challenge(api: Api) -> None:
    response = api.client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["nonsense", "shera_" + "x" * 43, "a.b.c"])
def test_unknown_token_is_401(api: Api, token: str) -> None:
    assert api.client.get(ME, headers=bearer(token)).status_code == 401


def test_tokens_are_stored_only_as_digests(api: Api, acme: Tenant) -> None:
    token = acme.tokens["viewer"]
    assert token.startswith("shera_") and len(token) >= 6 + 43
    with api.db.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql("SELECT token_hash FROM tokens")]
    assert token not in stored
    assert hash_token(token) in stored


def test_revoked_token_stops_working(api: Api, acme: Tenant) -> None:
    listed = api.client.get(f"/api/v1/tenants/{acme.id}/tokens", headers=acme.auth()).json()["data"]
    assert all("token" not in item for item in listed)
    viewer = next(item for item in listed if item["role"] == "viewer")
    assert api.client.get(ME, headers=acme.auth("viewer")).status_code == 200

    revoked = api.client.delete(f"/api/v1/tenants/{acme.id}/tokens/{viewer['id']}", headers=acme.auth())

    assert revoked.status_code == 204
    assert api.client.get(ME, headers=acme.auth("viewer")).status_code == 401
    assert api.client.get(ME, headers=acme.auth("admin")).status_code == 200


def test_bootstrap_token_is_platform_admin_and_stored_once(make_api: Any) -> None:
    first = make_api()
    second = make_api()  # a second start on the same database
    assert (
        second.client.post("/api/v1/tenants", json={"name": "t1"}, headers=bearer(BOOTSTRAP)).status_code
        == 201
    )
    with first.db.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM tokens WHERE tenant_id IS NULL").scalar()
    assert count == 1


def test_platform_admin_cannot_act_inside_a_tenant(api: Api) -> None:
    response = api.client.get(ME, headers=bearer(BOOTSTRAP))
    assert response.status_code == 403
    assert "tenant" in response.json()["detail"]


def test_hs256_jwt_by_tenant_name_or_id(api: Api, acme: Tenant) -> None:
    for tenant in (acme.name, acme.id):
        assert api.client.get(ME, headers=bearer(hs256(claims(tenant)))).status_code == 200


def test_jwt_role_is_enforced(api: Api, acme: Tenant) -> None:
    viewer = bearer(hs256(claims(acme.name, role="viewer")))
    body = {"name": "app", "forge": "github", "clone_url": "https://git.example.test/a.git"}
    assert api.client.post(ME, json=body, headers=viewer).status_code == 403
    maintainer = bearer(hs256(claims(acme.name, role="maintainer")))
    assert api.client.post(ME, json=body, headers=maintainer).status_code == 201


@pytest.mark.parametrize(
    ("case", "payload"),
    [
        ("expired", {"exp": int(time.time()) - 10}),
        ("unknown role", {"role": "owner"}),
        ("unknown tenant", {"tenant": "initech"}),
    ],
)
def test_bad_hs256_claims_are_401(api: Api, acme: Tenant, case: str, payload: dict[str, Any]) -> None:
    response = api.client.get(ME, headers=bearer(hs256({**claims(acme.name), **payload})))
    assert response.status_code == 401, case


@pytest.mark.parametrize("missing", ["tenant", "role", "sub", "exp"])
def test_jwt_without_a_required_claim_is_401(api: Api, acme: Tenant, missing: str) -> None:
    payload = claims(acme.name)
    del payload[missing]
    assert api.client.get(ME, headers=bearer(hs256(payload))).status_code == 401


def test_jwt_signed_with_another_secret_is_401(api: Api, acme: Tenant) -> None:
    forged = hs256(claims(acme.name), secret="not-the-portal-secret-but-long-enough!!")
    assert api.client.get(ME, headers=bearer(forged)).status_code == 401


def test_alg_none_is_401(api: Api, acme: Tenant) -> None:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(acme.name))}."
    assert api.client.get(ME, headers=bearer(unsigned)).status_code == 401


def test_rs256_jwt_valid_and_wrong_key(
    api: Api, acme: Tenant, rsa_keys: RsaKeys, other_rsa_keys: RsaKeys
) -> None:
    assert api.client.get(ME, headers=bearer(rs256(claims(acme.name), rsa_keys))).status_code == 200
    assert api.client.get(ME, headers=bearer(rs256(claims(acme.name), other_rsa_keys))).status_code == 401
    expired = rs256(claims(acme.name, exp=int(time.time()) - 5), rsa_keys)
    assert api.client.get(ME, headers=bearer(expired)).status_code == 401


def test_hs256_signed_with_the_rsa_public_key_is_refused(make_api: Any, rsa_keys: RsaKeys) -> None:
    # Algorithm confusion: with only an RS256 key configured, an HS256 token "signed" with the public
    # key as HMAC secret must not pass.
    api = make_api(jwt_hs256_secret=None)
    tenant = api.tenant("acme")
    header, payload = {"alg": "HS256", "typ": "JWT"}, claims(tenant.name)
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(rsa_keys.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{b64(mac)}"
    assert api.client.get(ME, headers=bearer(confused)).status_code == 401
    assert api.client.get(ME, headers=bearer(rs256(payload, rsa_keys))).status_code == 200


def test_jwt_of_another_tenant_sees_only_its_tenant(api: Api, acme: Tenant, globex: Tenant) -> None:
    project = api.project(acme)
    as_globex = bearer(hs256(claims(globex.name, role="admin")))
    assert api.client.get(f"/api/v1/projects/{project['id']}", headers=as_globex).status_code == 404
    assert api.client.get(ME, headers=as_globex).json()["count"] == 0


def test_audience_is_checked_when_configured(make_api: Any) -> None:
    api = make_api(jwt_audience="shera")
    tenant = api.tenant("acme")
    assert api.client.get(ME, headers=bearer(hs256(claims(tenant.name, aud="shera")))).status_code == 200
    assert api.client.get(ME, headers=bearer(hs256(claims(tenant.name, aud="other")))).status_code == 401
    assert api.client.get(ME, headers=bearer(hs256(claims(tenant.name)))).status_code == 401


def test_jwts_are_refused_when_no_key_is_configured(make_api: Any) -> None:
    api = make_api(jwt_hs256_secret=None, jwt_rs256_public_key=None)
    tenant = api.tenant("acme")
    assert api.client.get(ME, headers=bearer(hs256(claims(tenant.name)))).status_code == 401
