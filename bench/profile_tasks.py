"""Where a flow's time goes, task by task: one ingest, train and score run, profiled.

The three flows run as a user runs them (`python flows/X.py --config project P run`, local
metadata and datastore) on a small generated project in a temporary folder (the tests'
`write_project`, with their fast training settings); between train and score the candidate
is approved and promoted (the tests' `release`). Every Python process a flow starts (the
`run` command, each task, each card) is profiled by `bench/taskprofile/sitecustomize.py`:
its wall time from its own start, `python -X importtime` and cProfile.

Printed per flow: wall time, Metaflow's floor for the same graph is in `bench_floor.py`;
per task: wall, seconds spent importing, the heavy packages it imported (>= 50 ms each)
and the Renkei functions (flows/, shared/) with the most cumulative time.

    python bench/profile_tasks.py [--rows 4000] [--partition-rows N] [--plain] [--keep DIR]

`--plain` measures wall times only (no cProfile, no importtime: what a user's run costs);
`--floor` also runs Metaflow's floor, the same graphs with empty steps (`bench_floor.py`),
task by task;
`--keep DIR` keeps every process's files (<pid>.prof for snakeviz or pstats,
<pid>.imports for tuna) in DIR. `--repo PATH` profiles another checkout of Renkei (e.g.
`git archive` of an older commit) with this checkout's venv, for before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HOOK = REPO / "bench" / "taskprofile"
HEAVY_S = 0.05  # a top-level import at least this long is named in the table


@dataclass
class Proc:
    """One Python process a flow started."""

    label: str  # "run", "<step>/<task id>" or "card <step>"
    start: float
    end: float
    import_s: float = 0.0
    heavy: dict[str, float] = field(default_factory=dict)  # package -> cumulative seconds
    top: list[tuple[float, str]] = field(default_factory=list)  # Renkei functions

    @property
    def wall(self) -> float:
        return self.end - self.start


def label_of(argv: list[str]) -> str:
    """What a process was, from its command line."""
    if "step" in argv:
        i = argv.index("step")
        task = argv[argv.index("--task-id") + 1] if "--task-id" in argv else "?"
        return f"{argv[i + 1]}/{task}"
    if "card" in argv and "create" in argv:
        runspec = argv[argv.index("create") + 1]  # run/step/task
        mode = argv[argv.index("--mode") + 1] if "--mode" in argv else ""
        return f"card {'/'.join(runspec.split('/')[1:])} {mode}".rstrip()
    for verb in ("run", "resume"):
        if verb in argv:
            return verb
    return " ".join(argv[1:3])


def imports_of(path: Path) -> tuple[float, dict[str, float]]:
    """Seconds spent importing, and per top-level package (pandas, shared, ...) the seconds
    its own modules took (`-X importtime`'s self times: they add up to the total)."""
    total, by_package = 0.0, {}
    if not path.exists():
        return total, by_package
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cum, name = line[len("import time:") :].split("|", 2)
        if not name.startswith("  "):  # a top-level import: its cumulative time counts once
            total += int(cum) / 1e6
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(own) / 1e6
    return total, {k: v for k, v in by_package.items() if v >= HEAVY_S}


def renkei_functions(path: Path, repo: Path, n: int) -> list[tuple[float, str]]:
    """The ``n`` functions of flows/ and shared/ with the most cumulative seconds."""
    if not path.exists():
        return []
    stats = pstats.Stats(str(path))
    out = []
    for (file, line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        try:
            rel = Path(file).resolve().relative_to(repo)
        except ValueError:
            continue
        if rel.parts[0] in ("flows", "shared") and fn != "<module>":
            out.append((ct, f"{rel}:{line}({fn})"))
    return sorted(out, reverse=True)[:n]


def collect(folder: Path, repo: Path, top: int) -> list[Proc]:
    """Every process's record in ``folder``, oldest first."""
    procs = []
    for meta in folder.glob("*.json"):
        d = json.loads(meta.read_text())
        p = Proc(label_of(d["argv"]), d["start"], d["end"])
        p.import_s, p.heavy = imports_of(meta.with_suffix(".imports"))
        p.top = renkei_functions(meta.with_suffix(".prof"), repo, top)
        procs.append(p)
    return sorted(procs, key=lambda p: p.start)


def run_flow(cmd: list[str], cwd: Path, env: dict[str, str], folder: Path) -> tuple[float, float]:
    """Run one flow command with the profiling hook; (start epoch, wall seconds)."""
    folder.mkdir(parents=True)
    t0, w0 = time.time(), time.perf_counter()
    p = subprocess.run(
        [sys.executable, *cmd],
        cwd=cwd,
        env={**env, "RENKEI_PROFILE_DIR": str(folder)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - w0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return t0, wall


PROMOTE = """
import sys
from shared.config import load_project, load_project_set
from shared.ledger import Ledger
from tests.builders import release

project = sys.argv[1]
cfg, pset = load_project(project), load_project_set(project)
ledger = Ledger.open(cfg.storage.ledger_url)
version = next(m.version for m in ledger.registry.models() if m.status == "candidate")
release(ledger, pset.roles, cfg, pset.rules, version, "profile")
ledger.close()
"""


def promote_candidate(project: Path, repo: Path, env: dict[str, str]) -> None:
    """Approve and promote the newest candidate to production, as the tests do, with the
    checkout's own code (its bundle holds that checkout's settings)."""
    run_env = {**env, "PYTHONPATH": str(repo)}
    p = subprocess.run(
        [sys.executable, "-c", PROMOTE, str(project)],
        cwd=repo,
        env=run_env,
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise SystemExit(f"promoting in {repo} failed:\n{p.stderr[-3000:]}")


def outcomes(project: Path) -> dict[str, object]:
    """What the flows left, to compare two checkouts on the same inputs: dataset versions
    and counts, the quarantined rows, each model's metrics, the scored rows (run ids aside)."""
    import hashlib

    from shared.config import load_project
    from shared.data.manifest import read_frame
    from shared.ledger import Ledger

    def digest(uri: str) -> tuple[str, int]:
        df = read_frame(uri).drop(columns=["flow_run"], errors="ignore")
        return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()[:16], len(df)

    ledger = Ledger.open(load_project(project).storage.ledger_url)
    out: dict[str, object] = {
        "datasets": [(d.version, d.rows_in) for d in ledger.datasets.all()],
        "quarantines": [digest(r.quarantine_uri) for r in ledger.datasets.reports()],
        "models": [(m.family, str(m.status), m.metrics) for m in ledger.registry.models()],
        "scored": [
            (b.rows, b.decisions, digest(b.output_uri)) for b in ledger.operations.scoring_batches()
        ],
    }
    ledger.close()
    return out


def report(flow: str, t0: float, wall: float, procs: list[Proc], plain: bool) -> None:
    tasks = [p for p in procs if p.label != "run"]
    t0 = next((p.start for p in procs if p.label == "run"), t0)  # the `run` process's start
    first = min((p.start for p in tasks), default=t0)
    print(
        f"\n{flow}: {wall:.2f} s wall; {first - t0:.2f} s before the first task; "
        f"{sum(p.wall for p in tasks):.2f} s in {len(tasks)} task processes"
    )
    for p in procs:
        line = f"  {p.label:<16} {p.wall:6.2f} s"
        if not plain:
            heavy = ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(p.heavy.items(), key=lambda kv: -kv[1])
            )
            line += f"  imports {p.import_s:5.2f} s  [{heavy}]"
        print(line)
        for ct, name in p.top:
            print(f"      {ct:6.2f} s  {name}")


def step_walls(procs: list[Proc]) -> dict[str, float]:
    """Seconds before the first task, and per step (its tasks added up; its cards apart)."""
    run = next((p for p in procs if p.label == "run"), None)
    tasks = [p for p in procs if p.label != "run"]
    out: dict[str, float] = {}
    if run is not None and tasks:
        out["before the first task"] = min(p.start for p in tasks) - run.start
    for p in tasks:
        if p.label.startswith("card "):
            key = "card " + p.label.split()[1].split("/")[0]
        else:
            key = p.label.split("/")[0]
        out[key] = out.get(key, 0.0) + p.wall
    return out


def make_project(folder: Path, partition_rows: int) -> Path:
    """A project folder like the tests' (their fast training settings)."""
    from tests.conftest import FAST_TRAINING, write_project

    folder.mkdir(parents=True)
    project = write_project(folder, **FAST_TRAINING)
    if partition_rows:  # write_project sets storage whole: add the partition size after it
        import yaml

        data = yaml.safe_load(project.read_text())
        data["storage"]["partition_rows"] = partition_rows
        project.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=4000, help="generated rows (ingest and score)")
    ap.add_argument("--partition-rows", type=int, default=0, help="0: config/project.yaml's")
    ap.add_argument("--plain", action="store_true", help="wall times only (no profilers)")
    ap.add_argument("--top", type=int, default=6, help="Renkei functions shown per task")
    ap.add_argument("--floor", action="store_true", help="also the empty graphs (bench_floor)")
    ap.add_argument("--keep", type=Path, help="keep every process's files in this folder")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose flows run")
    ap.add_argument(
        "--before", type=Path, help="another checkout: each flow runs there first, then here"
    )
    args = ap.parse_args()
    repos = {"before": args.before.resolve()} if args.before else {}
    repos["now"] = args.repo.resolve()
    top = 0 if args.plain else args.top

    with tempfile.TemporaryDirectory(prefix="renkei-profile-") as tmp_dir:
        tmp = Path(tmp_dir)
        projects = {k: make_project(tmp / k, args.partition_rows) for k in repos}
        env = {
            **os.environ,
            "METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench"),
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp / "metaflow"),
            "RENKEI_LEDGER_URL": "",
        }
        if not args.plain:
            env |= {"PYTHONPROFILEIMPORTTIME": "1", "RENKEI_PROFILE_CPROFILE": "1"}
        out = args.keep or tmp / "profile"
        if out.exists():
            shutil.rmtree(out)
        rows = ["--rows", str(args.rows)]
        load = os.getloadavg()
        print(
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            + ", ".join(f"{k}: {v}" for k, v in repos.items())
        )
        table: list[tuple[str, str, dict[str, float]]] = []  # flow, step, seconds per repo
        for flow, flow_args in (
            ("ingest", [*rows, "--bad-fraction", "0.02"]),
            ("train", []),
            ("score", rows),
        ):
            walls: dict[str, dict[str, float]] = {}
            for name, repo in repos.items():
                project = projects[name]
                if flow == "score":
                    promote_candidate(project, repo, env)
                cmd = [f"flows/{flow}_flow.py", "--config", "project", str(project), "run"]
                folder = out / f"{flow}-{name}"
                run_env = {**env, "PYTHONPATH": os.pathsep.join([str(HOOK), str(repo)])}
                t0, wall = run_flow([*cmd, *flow_args], repo, run_env, folder)
                procs = collect(folder, repo, top)
                report(f"{flow} ({name})", t0, wall, procs, args.plain)
                walls[name] = {"flow": wall, **step_walls(procs)}
            for key in walls["now"]:
                table.append((flow, key, {k: w.get(key, 0.0) for k, w in walls.items()}))
        if args.floor:  # Metaflow's own cost: the same graphs, every step empty
            from bench import bench_floor
            from shared.config import load_project

            cfg = load_project(projects["now"])
            learned = tuple(f for f in cfg.training.families if f != "baseline")
            from shared.config.settings import machine_cores
            from shared.data.partitions import partition_size

            size = partition_size(cfg.storage.partition_rows, args.rows, machine_cores())
            parts = -(-args.rows // size)
            floor_dir = tmp / "floor"
            floor_dir.mkdir()
            floor_env = {**env, "PYTHONPATH": str(HOOK)}
            for name, path in bench_floor.write_flows(floor_dir, learned, parts).items():
                folder = out / f"floor-{name}"
                t0, wall = run_flow([str(path), "run"], floor_dir, floor_env, folder)
                procs = collect(folder, REPO, 0)
                report(f"floor {name}", t0, wall, procs, args.plain)
                for key, s in {"flow": wall, **step_walls(procs)}.items():
                    row = next((r for r in table if r[0] == name and r[1] == key), None)
                    if row is not None:
                        row[2]["floor"] = s
        cols = [c for c in ("before", "now", "floor") if any(c in r[2] for r in table)]
        load = os.getloadavg()
        print(
            f"\nseconds per flow and step (tasks of a step added up), load average after "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print(f"  {'flow':<8}{'step':<24}" + "".join(f"{c:>9}" for c in cols))
        for flow, key, secs in table:
            cells = "".join(f"{secs[c]:9.2f}" if c in secs else f"{'-':>9}" for c in cols)
            print(f"  {flow:<8}{key:<24}{cells}")
        if "before" in projects:  # same inputs, same results?
            left, right = outcomes(projects["before"]), outcomes(projects["now"])
            for key in left:
                same = (
                    "identical"
                    if left[key] == right[key]
                    else f"DIFFER: {left[key]} vs {right[key]}"
                )
                print(f"{key} before and now: {same}")


if __name__ == "__main__":
    main()
