"""A real moto server process on 127.0.0.1 standing in for AWS; nothing leaves loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import free_port, need, stop_process, wait_for_http

# fake credentials, no metadata probes, and a dead proxy for anything not on loopback
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its URL; stop it by pid."""
    exe = shutil.which("moto_server") or os.path.join(
        os.path.dirname(sys.executable), "moto_server"
    )
    need(os.path.exists(exe), "moto_server not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **AWS_TEST_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, proc, timeout=30)
    for k, v in {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": url}.items():
        monkeypatch.setenv(k, v)
    try:
        yield url
    finally:
        stop_process(proc)


# A stand-in for Metaflow's metadata service (a separate server, not installed here): it
# answers the one call `step-functions create` makes (GET /ping) and logs every request path.
_METADATA_STAND_IN = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, log = int(sys.argv[1]), sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\\n")
        self.send_response(200 if self.path.endswith("/ping") else 404)
        self.send_header("METADATA_SERVICE_VERSION", "2.4.0")
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.fixture
def metadata_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A metadata-service stand-in on a free loopback port: yields (its URL, its request log)."""
    port = free_port()
    log = str(tmp_path_factory.mktemp("metadata") / "requests.log")
    proc = subprocess.Popen(
        [sys.executable, "-c", _METADATA_STAND_IN, str(port), log],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metadata"
    wait_for_http(f"{url}/ping", proc, timeout=30)
    try:
        yield url, log
    finally:
        stop_process(proc)


def iam_user(name: str) -> dict[str, str | None]:
    """A moto IAM user and the environment of a shell holding its credentials (its own
    access key; no session token inherited from the test's shell)."""
    import boto3

    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": k["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"],
        "AWS_SESSION_TOKEN": None,
    }
