"""Raw bytes to a frame: a CSV (every value text, as it came) or a Parquet file; a file-level
problem raises :class:`RawInputError` with one line naming the file and the problem.

A CSV is parsed by Arrow's multi-threaded reader when it reads cleanly, every column as text
with pandas' missing-value markers; anything else (a parse error, odd column names, an
encoding problem) goes through pandas' reader, which gives the same frame or the error.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pyarrow as pa_arrow
import pyarrow.csv as pa_csv
from pandas._libs.parsers import STR_NA_VALUES

from shared.data.validation import RawInputError

_BOM = b"\xef\xbb\xbf"
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # what read_csv(dtype=str) gives


def read_raw(data: bytes, name: str, fmt: str) -> pd.DataFrame:
    """Parse raw bytes; file-level problems raise RawInputError naming ``name``."""
    if fmt == "parquet":
        try:
            return pd.read_parquet(io.BytesIO(data))
        except (pa_arrow.ArrowException, OSError, ValueError) as e:
            raise RawInputError(f"{name}: not a readable Parquet file ({_first_line(e)})") from None
    fast = _arrow_csv(data)
    return fast if fast is not None else _pandas_csv(data, name)


def _arrow_csv(data: bytes) -> pd.DataFrame | None:
    """The CSV through Arrow, or None where pandas' reader must decide (or explain)."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    header = body.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = next(csv.reader([header.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if "," not in header.decode("utf-8") or len(set(names)) != len(names) or "" in names:
        return None  # a delimiter problem, or names pandas would rename
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa_arrow.large_string() for n in names},
                null_values=sorted(STR_NA_VALUES),
                strings_can_be_null=True,
            ),
        )
    except (pa_arrow.ArrowException, ValueError):
        return None
    if table.num_rows == 0 or table.column_names != names:
        return None
    return table.to_pandas(types_mapper={pa_arrow.large_string(): _TEXT}.get)


def _pandas_csv(data: bytes, name: str) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RawInputError(
            f"{name}: not UTF-8 encoded (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "re-save the file as UTF-8"
        ) from None
    first = text.splitlines()[0] if text.splitlines() else ""
    if "," not in first:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in first:
                raise RawInputError(
                    f"{name}: wrong delimiter: the header is {label}-separated, expected commas"
                )
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, csv.Error) as e:
        raise RawInputError(f"{name}: malformed CSV ({_first_line(e)})") from None
    except pd.errors.EmptyDataError:
        raise RawInputError(f"{name}: file is empty") from None
    if df.empty:
        raise RawInputError(f"{name}: has a header but no data rows")
    return df


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
