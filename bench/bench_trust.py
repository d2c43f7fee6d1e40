"""Trust benchmark: the cost of signing and verifying an approval, and of anchoring the
audit chain, beside the unsigned / unanchored baseline (SQLite ledger, local anchor file).

Per approval: ``add_approval`` alone (baseline) vs ``add_approval`` + signing its statement
(artifact digest over a 1 MB artifact, Ed25519, the signature row) and verifying it as a
promotion does. Per 1,000 audit entries: 1,000 single-entry writes unanchored (baseline) vs
anchored after every write and every 100. Goal: report the ratios; signing + verifying an
approval < 50 ms; anchoring every write <= 1.5x the unanchored writes.

    python bench/bench_trust.py [--approvals 200] [--entries 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_table  # noqa: E402
from shared.config.identity import IdentitySettings  # noqa: E402
from shared.ledger import Ledger, ModelRegistration  # noqa: E402
from shared.ledger.trust import TrustRecords  # noqa: E402
from shared.trust import keys  # noqa: E402
from shared.trust.anchors import attach  # noqa: E402
from shared.trust.decisions import Signer, approval_fields, signature_problem  # noqa: E402
from shared.trust.identity import Identity, IdentityStatus  # noqa: E402


def _ledger(tmp: Path, name: str) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp / name}.db", create=True)


def _model(ledger: Ledger, tmp: Path) -> str:
    art = tmp / "artifacts"
    art.mkdir(exist_ok=True)
    (art / "model.json").write_bytes(b"x" * 1_000_000)
    (art / "meta.json").write_text("{}")
    reg = ModelRegistration("xgboost", "candidate", "mae", {}, {}, [], {}, str(art), {})
    [m] = ledger.registry.register("bench", "bench", [reg], [], "mina", None, None, "0")
    return m.version


def timed(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--approvals", type=int, default=200)
    ap.add_argument("--entries", type=int, default=1000)
    args = ap.parse_args()
    n, e = args.approvals, args.entries
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        keys.init_key(tmp / "keys", "kenji")
        key = keys.load_key(tmp / "keys", "kenji")
        settings = IdentitySettings(public_keys={"kenji": keys.public_text(key.public_key())})
        ident = Identity("kenji", "kenji", "local", IdentityStatus.VERIFIED)
        signer = Signer(ident, "kenji", key, "0" * 16)

        plain = _ledger(tmp, "plain")
        v = _model(plain, tmp)
        base = timed(lambda i: plain.add_approval(v, "kenji", "Domain Expert", "approve", "ok"), n)
        signed = _ledger(tmp, "signed")
        v = _model(signed, tmp)
        m = signed.model(v)
        made = []

        def approve_and_sign(i: int) -> None:
            a = signed.add_approval(v, "kenji", "Domain Expert", "approve", "ok")
            signer.sign_approval(signed, m, a)
            made.append(a)

        t_sign = timed(approve_and_sign, n)
        t0 = time.perf_counter()
        sigs = TrustRecords(signed).signatures("approval")
        bad = [
            signature_problem(settings, sigs.get(("approval", a.id)), approval_fields(a), "a")
            for a in made
        ]
        t_verify = time.perf_counter() - t0
        assert not any(bad), bad
        rows.append(
            [
                f"approve ({n:,})",
                f"{base / n * 1000:.2f} ms",
                f"{t_sign / n * 1000:.2f} ms + verify {t_verify / n * 1000:.3f} ms",
                f"{(t_sign + t_verify) / base:.2f}",
            ]
        )
        print(rows[-1], flush=True)

        plain = _ledger(tmp, "chain-plain")
        base = timed(lambda i: plain.audit("bench", "note", f"s{i}", {"i": i}), e)
        rows.append([f"{e:,} audit writes, unanchored", f"{base:.3f} s", "-", "1.00"])
        for every in (1, 100):
            lg = _ledger(tmp, f"chain-{every}")
            s = IdentitySettings(
                dev_mode=True, anchors={"path": str(tmp / f"anchors-{every}.jsonl"), "every": every}
            )
            attach(lg, s, str(tmp))
            t = timed(lambda i, lg=lg: lg.audit.append("bench", "note", f"s{i}", {"i": i}), e)
            rows.append(
                [
                    f"{e:,} audit writes, anchored every {every}",
                    f"{base:.3f} s",
                    f"{t:.3f} s",
                    f"{t / base:.2f}",
                ]
            )
            print(rows[-1], flush=True)
    write_table(
        "trust",
        "Trust: signing + verifying approvals, anchoring the audit chain (SQLite, local file)",
        rows,
        ["what", "baseline (unsigned / unanchored)", "with trust", "ratio"],
    )


if __name__ == "__main__":
    main()
