"""Shopper identity: who may read and change a shopper's profile, events and recommendations.

In a real shop the shop's own backend knows who the shopper is. It holds the service token (the one
the server was started with) and acts for any shopper with it, or mints a **shopper token** for one
shopper (`POST /users/{id}/token`, or `shopper_token()` in Python) and hands it to that shopper's
page. A shopper token is a JWT (HS256) naming one shopper (`sub`) and an expiry (`exp`), for this
service (`aud` "livevec-shopper"), signed with a key derived from the service token: the server
keeps no state for it, it survives a restart, a backend in any language can mint one with a JWT
library (the key is SHA-256 of "livevec shopper tokens\\0" followed by the service token), and
changing the service token revokes every shopper token at once.

The rule, in `ShopperAccess.check`:
- the service token (in `Authorization: Bearer`) may act for any shopper;
- a shopper token (in `Authorization: Bearer`, or `?token=` where a browser cannot send headers, as
  with EventSource) may act for the shopper it names, until it expires;
- a server without a service token (the demo: loopback only) lets a request without credentials
  through, and still refuses a shopper token that is not valid for that shopper, so its own page,
  which uses shopper tokens too, exercises the real path; its tokens are signed with a key made for
  the process;
- anything else is a 401.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Annotated, Any

import jwt
from fastapi import HTTPException, Query, Request
from fastapi import Path as PathParam

from ._security import Credentials, holds_token

DEFAULT_TTL = 3600  # seconds a shopper token is good for
MAX_TTL = 7 * 86400
AUDIENCE = "livevec-shopper"
_ALGORITHM = "HS256"


def _key(service_token: str | None) -> bytes:
    if service_token is None:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"livevec shopper tokens\0" + service_token.encode()).digest()


def _check_ttl(ttl: int) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise ValueError(f"ttl must be a whole number of seconds from 1 to {MAX_TTL}, got {ttl!r}")


class ShopperAccess:
    """Mints shopper tokens and decides who may act for a shopper, for one server (see the module)."""

    def __init__(self, service_token: str | None) -> None:
        self.open = service_token is None
        self._key = _key(service_token)

    def mint(self, user_id: str, ttl: int = DEFAULT_TTL) -> dict[str, Any]:
        """A shopper token for `user_id`, good for `ttl` seconds: `{"token", "expires_at"}` (unix seconds)."""
        _check_ttl(ttl)
        now = int(time.time())
        claims = {"sub": user_id, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
        return {"token": jwt.encode(claims, self._key, algorithm=_ALGORITHM), "expires_at": now + ttl}

    def shopper(self, token: str) -> str | None:
        """The shopper a valid, unexpired shopper token names; None for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "exp", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        return claims["sub"] if isinstance(claims.get("sub"), str) else None

    def check(self, user_id: str, *, service: bool, bearer: str | None, query_token: str | None) -> None:
        """Let the request act for `user_id`, or raise a 401 saying why not.

        Parameters:
            user_id: the shopper whose data the request reads or changes.
            service: whether the request brings the service token (`holds_token`).
            bearer: the `Authorization: Bearer` credentials, if any.
            query_token: the `?token=` parameter, if any: a shopper token only (a URL ends up in
                logs, so the service token is never taken from one).

        Raises:
            HTTPException: 401, with the reason.
        """
        if service:
            return
        presented = bearer if bearer is not None else query_token
        if presented is None:
            if self.open:
                return  # the open demo: loopback only, no credentials wanted
            reason = "this shopper's data wants the service token or a shopper token for them"
        else:
            named = self.shopper(presented)
            if named == user_id:
                return
            reason = (
                "the token is neither this server's nor a valid, unexpired shopper token"
                if named is None
                else "the shopper token is for another shopper"
            )
        raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


QueryToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=4000,
        description="a shopper token, for a client that cannot send `Authorization` (a browser's EventSource)",
    ),
]


def _access(request: Request) -> ShopperAccess:
    return request.app.state.access


def for_shopper(request: Request, credentials: Credentials, user_id: str, token: str | None) -> None:
    """401 unless the request may act for shopper `user_id` (see the module)."""
    bearer = credentials.credentials if credentials is not None else None
    service = holds_token(request, credentials)
    _access(request).check(user_id, service=service, bearer=bearer, query_token=token)


def shopper_in_path(
    request: Request, credentials: Credentials, user_id: Annotated[str, PathParam()], token: QueryToken = None
) -> None:
    """The route's `{user_id}` is a shopper the request may act for (401 otherwise)."""
    for_shopper(request, credentials, user_id, token)


def shopper_token(service_token: str, user_id: str, ttl: int = DEFAULT_TTL) -> dict[str, Any]:
    """Mint a shopper token in Python, as `POST /users/{user_id}/token` does, for a server started
    with `service_token`: the shop's backend can hand it to that shopper's page without a request.

    Usage:
        token = shopper_token(os.environ["LIVEVEC_TOKEN"], "alice")["token"]
        # the page sends `Authorization: Bearer <token>`, or `?token=<token>` on an EventSource

    Parameters:
        service_token: the token the server was started with (`--token`, LIVEVEC_TOKEN).
        user_id: the shopper the token acts for.
        ttl: seconds it is good for (at most a week).

    Returns:
        `{"token": ..., "expires_at": unix seconds}`.

    Raises:
        ValueError: `ttl` is not a whole number of seconds from 1 to a week.
    """
    return ShopperAccess(service_token).mint(user_id, ttl)
