"""The scoring service as a real process: no token 401, wrong token 401, right token 200,
revoked 401, OIDC JWTs verified against the issuer's keys, /health open, callers logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.trust.identity import os_login
from tests.builders import Trained, release
from tests.conftest import REPO, free_port, stop_process, wait_for_http
from tests.service.test_http import ROW
from tests.trust.conftest import renkei, set_identity

pytestmark = pytest.mark.slow
ISSUER, AUDIENCE = "https://login.example.test/", "renkei-scoring"


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
    rsa_key, jwks = _jwks(tmp_path)
    set_identity(
        t,
        dev_mode=False,
        logins={"sora": [os_login()]},
        api_oidc={"issuer": ISSUER, "audience": AUDIENCE, "jwks": str(jwks)},
    )
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
            assert predict(f"Bearer {token}").status_code == 401
        listed = renkei(t, "tokens", "list")
        assert "ops-dashboard" in listed.output and "revoked" in listed.output
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "caller=token:ops-dashboard POST /predict 200" in text, text
    assert f"caller=oidc:user-42@{ISSUER} POST /predict 200" in text
    assert "caller=unauthenticated POST /predict 401" in text
    assert "caller=rejected POST /predict 401" in text
