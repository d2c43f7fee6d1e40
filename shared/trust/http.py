"""Who calls the scoring service: a bearer API token (stored hashed in the ledger, revocable)
or, when configured, an OIDC JWT verified against the issuer's keys (PyJWT). ``/health``
stays open. Each answer's log line names the caller. A token's ledger look-up is kept in the
process for ``service.token_cache_seconds`` (shared.trust.token_cache): a revoked token is
refused within that long; a request whose token was seen lately never waits on the ledger
nor on a thread (the check runs on the event loop; only a look-up goes to the thread pool)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from shared.config.identity import IdentitySettings, OidcSettings
from shared.ledger import Ledger
from shared.trust.token_cache import MISS, TokenCache

log = logging.getLogger("uvicorn.renkei")  # printed with uvicorn's own lines
DEV_CALLER = "anonymous (dev mode)"


class OidcVerifier:
    """Verifies a JWT's signature (the issuer's JWKS), issuer, audience and expiry."""

    def __init__(self, s: OidcSettings) -> None:
        self.s = s
        self.client: jwt.PyJWKClient | None = None
        self.keyset: jwt.PyJWKSet | None = None
        if s.jwks.startswith(("https://", "http://")):
            self.client = jwt.PyJWKClient(s.jwks, cache_keys=True)
        else:
            self.keyset = jwt.PyJWKSet.from_json(Path(s.jwks).read_text())

    def _key(self, token: str) -> Any:
        if self.client is not None:
            return self.client.get_signing_key_from_jwt(token).key
        assert self.keyset is not None
        kid = jwt.get_unverified_header(token).get("kid")
        return next(k.key for k in self.keyset.keys if k.key_id == kid)

    def caller(self, token: str) -> str | None:
        """``oidc:<subject>@<issuer>`` for a valid token, else None."""
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=self.s.algorithms,
                audience=self.s.audience,
                issuer=self.s.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, StopIteration, ValueError):
            return None
        return f"oidc:{claims['sub']}@{claims['iss']}"


def _log_caller(app: Any) -> Any:
    """Pure ASGI middleware: each answer's log line names its caller (what ``caller`` left in
    the request's state). No BaseHTTPMiddleware: it would cost every request a task and a
    stream of its own."""

    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        status = [500]  # an app that fails before answering: uvicorn answers 500

        async def sent(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await app(scope, receive, sent)
        finally:
            caller = scope.get("state", {}).get("caller", "-")
            log.info("caller=%s %s %s %s", caller, scope["method"], scope["path"], status[0])
        return None

    return middleware


def protect(
    app: FastAPI, ledger: Ledger, settings: IdentitySettings, cache_seconds: float = 5.0
) -> Callable[..., Any]:
    """Install the caller log line on ``app``; return the dependency that authenticates a
    request (401 without a valid bearer token; in dev mode a request without any token
    passes as an anonymous caller, a wrong token is still refused). API-token look-ups are
    held ``cache_seconds`` (service.token_cache_seconds)."""
    tokens = TokenCache(ledger.trust.token_name, cache_seconds)
    oidc = OidcVerifier(settings.api_oidc) if settings.api_oidc else None

    app.add_middleware(_log_caller)

    async def caller(request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            if settings.dev_mode and not scheme:
                request.state.caller = DEV_CALLER
                return DEV_CALLER
            request.state.caller = "unauthenticated"
            raise HTTPException(
                401,
                "a bearer token is needed: Authorization: Bearer TOKEN "
                "(renkei tokens create --name NAME)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = tokens.key(token)
        name = tokens.get(key)
        if name is MISS:
            name = await run_in_threadpool(tokens.look_up, token, key)
        if name:
            who: str | None = f"token:{name}"
        else:  # a JWT (its keys may be fetched over the network: in the thread pool)
            who = await run_in_threadpool(oidc.caller, token) if oidc else None
        if who is None:
            request.state.caller = "rejected"
            raise HTTPException(
                401, "unknown, revoked or expired token", headers={"WWW-Authenticate": "Bearer"}
            )
        request.state.caller = who
        return who

    return caller
