"""The bad-row corpus and file-level errors of a raw batch."""

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import load_project
from shared.data.contracts import build_contracts
from shared.data.generator import BAD_KINDS, TYPED_KINDS, _apply, generate_orders
from shared.data.ingest import land_raw
from shared.data.partvalidate import validate_batch
from shared.data.rawread import read_raw
from shared.data.validation import RawInputError, split_valid

REPO = Path(__file__).resolve().parents[2]
CFG = load_project(REPO / "config" / "project.yaml")
NOW = datetime(2026, 11, 1)


def contracts():
    return build_contracts(CFG, NOW)


def _corrupted(kind: str, typed: bool = False) -> pd.DataFrame:
    df = generate_orders(40, seed=11).orders
    df = (
        df.astype(object)
        if not typed
        else df.astype(
            {"hour": float, "weekday": float, "courier_load": float, "basket_size": float}
        )
    )
    _apply(df, kind, np.array([10]), np.random.default_rng(0))
    return df


def _via_csv(df: pd.DataFrame) -> pd.DataFrame:
    return read_raw(df.to_csv(index=False).encode(), "batch.csv", "csv")


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_each_bad_kind_is_quarantined_with_its_reason(kind: str) -> None:
    column, check = BAD_KINDS[kind]
    result = split_valid(_via_csv(_corrupted(kind)), contracts())
    assert result.rows_in == 40
    assert result.rows_valid == 39 and result.rows_quarantined == 1
    q = result.quarantined.iloc[0]
    assert q["_row"] == 10
    reasons = list(q["_reasons"])
    assert {"column": column, "check": check} in [
        {"column": r["column"], "check": r["check"]} for r in reasons
    ], reasons
    # the quarantined row keeps the raw values as they came
    raw_id = _via_csv(_corrupted(kind)).iloc[10]["order_id"]
    assert q["order_id"] == (None if pd.isna(raw_id) else raw_id)


@pytest.mark.parametrize("kind", sorted(TYPED_KINDS))
def test_typed_frames_get_the_same_reasons(kind: str) -> None:
    column, check = BAD_KINDS[kind]
    result = split_valid(_corrupted(kind, typed=True), contracts())
    assert result.rows_quarantined == 1
    assert (column, check) in set(
        zip(result.reasons["column"], result.reasons["check"], strict=True)
    )


def test_valid_rows_are_typed_and_match_the_validated_contract() -> None:
    g = generate_orders(300, seed=3, bad_fraction=0.1)
    result = split_valid(_via_csv(g.orders), contracts())
    assert result.rows_valid + result.rows_quarantined == 300
    assert result.rows_quarantined == len(g.bad_rows)
    assert set(result.quarantined["_row"]) == set(g.bad_rows["row"])
    v = result.valid
    assert v["hour"].dtype == "int64" and v["rain"].dtype == bool
    assert str(v["created_at"].dtype).startswith("datetime64")
    contracts().validated.validate(v)
    counts = {(c.column, c.check): c.rows for c in result.check_counts()}
    assert sum(counts.values()) >= result.rows_quarantined


def test_first_of_duplicated_ids_stays_valid() -> None:
    df = generate_orders(10, seed=1).orders
    df.loc[5, "order_id"] = df.loc[2, "order_id"]
    result = split_valid(df, contracts())
    assert list(result.quarantined["_row"]) == [5]
    assert df.loc[2, "order_id"] in set(result.valid["order_id"])


def test_several_problems_in_one_row_are_all_reported() -> None:
    df = generate_orders(10, seed=1).orders.astype(object)
    df.loc[3, "hour"] = 99
    df.loc[3, "zone"] = "atlantis"
    df.loc[3, "distance_km"] = "far"
    reasons = split_valid(df, contracts()).reasons
    assert set(reasons["column"]) == {"hour", "zone", "distance_km"}
    assert set(reasons["row"]) == {3}


def test_extra_columns_are_kept_raw_but_not_in_the_dataset() -> None:
    df = generate_orders(10, seed=1).orders.assign(note="x")
    result = split_valid(df, contracts())
    assert result.extra_columns == ["note"] and "note" not in result.valid.columns


def test_target_column_is_optional_but_checked_when_present() -> None:
    g = generate_orders(20, seed=1)
    df = g.orders.assign(delivery_minutes=g.labels["delivery_minutes"].astype(object))
    df.loc[4, "delivery_minutes"] = -3
    df.loc[6, "delivery_minutes"] = None  # label not arrived yet: fine
    result = split_valid(df, contracts())
    assert list(result.quarantined["_row"]) == [4]
    assert "delivery_minutes" in result.valid.columns


# -- file-level problems: one line naming the file and the problem -------------------------
def _write(tmp_path: Path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _file_error(tmp_path: Path, source: str) -> str:
    with pytest.raises(RawInputError) as e:
        raw = land_raw(source, str(tmp_path / "root"))
        validate_batch(raw, CFG, str(tmp_path / "root"), NOW)
    msg = str(e.value)
    assert "\n" not in msg and source in msg
    return msg


def test_file_level_errors_are_one_clear_line(tmp_path: Path) -> None:
    good = generate_orders(20, seed=1).orders
    csv = good.to_csv(index=False)
    cases = {
        str(tmp_path / "missing.csv"): "file not found",
        _write(tmp_path, "empty.csv", b""): "file is empty",
        _write(tmp_path, "blank.csv", b"\n\n  \n"): "file is empty",
        _write(tmp_path, "header.csv", csv.splitlines()[0].encode() + b"\n"): "no data rows",
        _write(tmp_path, "orders.xlsx", b"PK\x03\x04junk"): "unsupported format '.xlsx'",
        _write(tmp_path, "orders.parquet", b"not parquet at all"): "not a readable Parquet file",
        _write(
            tmp_path, "nozone.csv", good.drop(columns=["zone"]).to_csv(index=False).encode()
        ): "missing required column(s): zone",
        _write(
            tmp_path, "semi.csv", csv.replace(",", ";").encode()
        ): "wrong delimiter: the header is semicolon-separated",
        _write(tmp_path, "tabs.csv", csv.replace(",", "\t").encode()): "tab-separated",
        _write(
            tmp_path, "latin1.csv", csv.replace("burger", "bürger").encode("latin-1")
        ): "not UTF-8 encoded",
        _write(
            tmp_path, "ragged.csv", (csv + "a,b,c,d,e,f,g,h,i,j,k,l,m,n\n").encode()
        ): "malformed CSV",
    }
    for source, expected in cases.items():
        assert expected in _file_error(tmp_path, source), source


def test_raw_input_is_kept_byte_for_byte(tmp_path: Path) -> None:
    data = generate_orders(30, seed=2, bad_fraction=0.2).orders.to_csv(index=False).encode()
    data = data.replace(b"\n", b"\r\n")  # Windows line ends stay as they came
    src = _write(tmp_path, "in.csv", data)
    raw = land_raw(src, str(tmp_path / "root"))
    assert Path(raw.uri).read_bytes() == data
    outcome, split = validate_batch(raw, CFG, str(tmp_path / "root"), NOW)
    assert outcome.rows_in == 30 == outcome.rows_valid + outcome.rows_quarantined
    stored = pd.read_parquet(outcome.quarantine_uri)
    assert len(stored) == outcome.rows_quarantined


def test_parquet_input_and_same_data_same_version(tmp_path: Path) -> None:
    g = generate_orders(200, seed=4)
    root = str(tmp_path / "root")
    p = tmp_path / "orders.parquet"
    g.orders.to_parquet(p)
    c = tmp_path / "orders.csv"
    g.orders.to_csv(c, index=False)
    a, _ = validate_batch(land_raw(str(p), root), CFG, root, NOW)
    b, _ = validate_batch(land_raw(str(c), root), CFG, root, NOW)
    assert a.dataset_version == b.dataset_version
    other, _ = validate_batch(
        land_raw(
            _write(
                tmp_path, "x.csv", generate_orders(200, seed=5).orders.to_csv(index=False).encode()
            ),
            root,
        ),
        CFG,
        root,
        NOW,
    )
    assert other.dataset_version != a.dataset_version
    assert pd.read_parquet(a.dataset_uri).shape[0] == 200


def test_bytes_reader_handles_bom() -> None:
    df = generate_orders(5, seed=1).orders
    raw = b"\xef\xbb\xbf" + df.to_csv(index=False).encode()
    assert list(read_raw(raw, "bom.csv", "csv").columns) == list(df.columns)
    assert len(io.BytesIO(raw).getvalue()) > 0
