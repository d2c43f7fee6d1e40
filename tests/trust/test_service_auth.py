"""The scoring service as a real process: no token 401, wrong token 401, right token 200,
revoked 401 within service.token_cache_seconds, OIDC JWTs verified against the issuer's keys,
/health open, callers logged; a token seen lately costs no ledger query (the app over
uvicorn in this process, the ledger's queries counted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from shared.config.identity import IdentitySettings
from shared.operate.service import create_app
from shared.trust.identity import os_login
from tests.builders import Trained, release
from tests.conftest import REPO, free_port, stop_process, wait_for_http
from tests.service.test_http import ROW
from tests.trust.conftest import pin_dev_release_key, renkei, set_identity

pytestmark = pytest.mark.slow
ISSUER, AUDIENCE = "https://login.example.test/", "renkei-scoring"
CACHE_SECONDS = 1.0  # service.token_cache_seconds in the served project: the revocation bound
MARGIN = 20.0  # a busy machine's request and poll latency on top of the bound


def _token_cache(t: Trained, seconds: float) -> None:
    data = yaml.safe_load(t.project_path.read_text())
    data.setdefault("service", {})["token_cache_seconds"] = seconds
    t.project_path.write_text(yaml.safe_dump(data, sort_keys=False))


def _refused_after(predict: Any, auth: str, deadline_s: float) -> float:
    """Seconds until ``auth`` gets 401 (polling; fails past ``deadline_s``)."""
    t0 = time.monotonic()
    while True:
        status = predict(auth).status_code
        elapsed = time.monotonic() - t0
        if status == 401:
            return elapsed
        assert status == 200 and elapsed < deadline_s, (status, elapsed)
        time.sleep(0.05)


def _jwks(tmp: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    path = tmp / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return key, path


def _jwt(key: rsa.RSAPrivateKey, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


def test_predict_needs_a_valid_bearer_token(trained: Trained, tmp_path: Path) -> None:
    t = trained
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v)  # in dev mode, as the builder's project is
    pin_dev_release_key(t)  # out of dev mode, loads trust only the pinned release key
    rsa_key, jwks = _jwks(tmp_path)
    set_identity(
        t,
        dev_mode=False,
        logins={"sora": [os_login()]},
        api_oidc={"issuer": ISSUER, "audience": AUDIENCE, "jwks": str(jwks)},
    )
    _token_cache(t, CACHE_SECONDS)
    made = renkei(t, "tokens", "create", "--name", "ops-dashboard")
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token not in (Path(t.ledger.engine.url.database).read_bytes().decode("latin-1"))
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from shared.cli import main; main()",
                "--project",
                str(t.project_path),
                "serve",
            ]
            + ["--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, "RENKEI_LEDGER_URL": ""},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            assert c.get("/health").status_code == 200  # open: load balancers probe it

            def predict(auth: str | None) -> httpx.Response:
                headers = {"Authorization": auth} if auth else {}
                return c.post("/predict", json=ROW, headers=headers)

            none = predict(None)
            assert none.status_code == 401 and "bearer token is needed" in none.json()["detail"]
            assert predict("Bearer rk_wrong").status_code == 401
            assert predict(f"Basic {token}").status_code == 401
            assert c.get("/version").status_code == 401
            ok = predict(f"Bearer {token}")
            assert ok.status_code == 200 and ok.json()["model_version"] == v
            good_jwt = predict(f"Bearer {_jwt(rsa_key)}")
            assert good_jwt.status_code == 200, good_jwt.text
            assert predict(f"Bearer {_jwt(rsa_key, aud='other')}").status_code == 401
            assert predict(f"Bearer {_jwt(rsa_key, exp=int(time.time()) - 10)}").status_code == 401
            other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            assert predict(f"Bearer {_jwt(other_key)}").status_code == 401
            assert renkei(t, "tokens", "revoke", "ops-dashboard").exit_code == 0
            # refused within the cache's bound (the look-up held since the last 200 expires)
            took = _refused_after(predict, f"Bearer {token}", CACHE_SECONDS + MARGIN)
            assert took < CACHE_SECONDS + MARGIN
        listed = renkei(t, "tokens", "list")
        assert "ops-dashboard" in listed.output and "revoked" in listed.output
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "caller=token:ops-dashboard POST /predict 200" in text, text
    assert f"caller=oidc:user-42@{ISSUER} POST /predict 200" in text
    assert "caller=unauthenticated POST /predict 401" in text
    assert "caller=rejected POST /predict 401" in text


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def test_a_token_seen_lately_costs_no_ledger_query(trained: Trained) -> None:
    t = trained
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v)
    release_key = pin_dev_release_key(t)
    set_identity(t, dev_mode=False, logins={"sora": [os_login()]})
    made = renkei(t, "tokens", "create", "--name", "batch-client")
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    cfg = t.cfg.model_copy(
        update={
            "service": t.cfg.service.model_copy(update={"token_cache_seconds": 3600.0}),
            "capture": t.cfg.capture.model_copy(update={"enabled": False}),
        }
    )
    looked_up: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_tokens" in statement:
            looked_up.append(statement)

    app = create_app(
        str(t.ledger.engine.url),
        cfg=cfg,
        identity=IdentitySettings(dev_mode=False, release_key=release_key),
    )
    event.listen(Engine, "before_cursor_execute", count)
    try:
        with _uvicorn(app) as base, httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
            good = [
                c.post("/predict", json=ROW, headers={"Authorization": f"Bearer {token}"})
                for _ in range(40)
            ]
            assert [r.status_code for r in good] == [200] * 40
            assert len(looked_up) == 1  # the first request asked the ledger, 39 did not
            wrong = [
                c.post("/predict", json=ROW, headers={"Authorization": "Bearer rk_wrong"})
                for _ in range(40)
            ]
            assert [r.status_code for r in wrong] == [401] * 40
            assert len(looked_up) == 2  # a refusal is held too: a wrong token costs one query
            # the bound is the setting's: with an hour, a revoked token still passes here
            assert renkei(t, "tokens", "revoke", "batch-client").exit_code == 0
            looked_up.clear()
            again = c.post("/predict", json=ROW, headers={"Authorization": f"Bearer {token}"})
            assert again.status_code == 200 and looked_up == []
    finally:
        event.remove(Engine, "before_cursor_execute", count)
