"""Arrow-backed text columns at read speed: the Arrow array behind a column, stripping only
when some value needs it, and the rows repeating an earlier value (a hash over the string
buffer, every hash match confirmed on the strings themselves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
# _MASKS[k]: the low k bytes of a little-endian 8-byte word
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
_LOW_BITS = np.uint32((1 << 20) - 1)  # low hash bits indexing a lookup table (1 MiB)


def _edgy(first_or_last: np.ndarray) -> bool:
    """Whether some byte may start or end a value pandas' str.strip() would change: one of
    ASCII whitespace, control characters (0-32: a superset, tested in one pass) or the first
    or last byte of any multi-byte character (Unicode whitespace is one of those)."""
    return bool((np.subtract(first_or_last, 33, dtype=np.uint8) >= 95).any())


def arrow_text(s: pd.Series) -> pa.LargeStringArray | None:
    """The column's values as one Arrow large-string array, if it is Arrow-backed text."""
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        return None
    arr = pa.array(s.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr


def one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each Arrow text column held as one chunk (same dtype and values): its
    chunks joined once here, not again by each later look at the column."""
    if not frame.columns.is_unique:
        return frame
    joined = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            chunks = pa.array(s.array)
            if isinstance(chunks, pa.ChunkedArray) and chunks.num_chunks > 1:
                joined[col] = pd.Series(pd.array(arrow_text(s), dtype=s.dtype), index=s.index)
    if not joined:
        return frame
    out = frame.copy(deep=False)
    for col, s in joined.items():
        out[col] = s
    return out


def take(s: pd.Series, rows: np.ndarray) -> pd.Series:
    """``s.take(rows)``; Arrow text taken from its chunks joined (Arrow takes from many
    chunks slowly)."""
    arr = arrow_text(s)
    if arr is None:
        return s.take(rows)
    return pd.Series(pd.array(arr.take(pa.array(rows)), dtype=s.dtype), index=s.index[rows])


def text_series(arr: pa.Array, na_value: object = pd.NA) -> pd.Series:
    """An Arrow string array as a pandas text Series (``pd.NA``: "string"; NaN: "str")."""
    return pd.Series(pd.array(arr, dtype=pd.StringDtype("pyarrow", na_value=na_value)))


def as_text(s: pd.Series) -> np.ndarray:
    """Each value as the text ``astype("string")`` gives it (object array), None where
    missing; NumPy numbers and booleans through ``str`` directly (the same text, faster)."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
        values = s.to_numpy()
        # each distinct value (by its bits: -0.0 is not 0.0) written once
        bits = values.view(f"u{values.dtype.itemsize}")
        distinct, at = np.unique(bits, return_inverse=True)
        text = [str(v) for v in distinct.view(values.dtype).tolist()]
        out = np.array(text, dtype=object).reshape(len(distinct))[at.reshape(len(values))]
        if s.dtype.kind == "f":
            out[np.isnan(values)] = None
        return out
    arr = arrow_text(s)
    if arr is not None:  # Arrow text is its own text: None where missing
        return arr.to_numpy(zero_copy_only=False, writable=True)
    t = s.astype("string")
    return t.astype(object).where(t.notna(), None).to_numpy(copy=True)


def _buffers(
    arr: pa.LargeStringArray, pad: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start offset and byte length of each value, and the bytes (``pad``: a copy with 8 zero
    bytes appended, so that an 8-byte word may be read at any start)."""
    _, off_buf, data_buf = arr.buffers()
    n = len(arr)
    off = np.frombuffer(off_buf, dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    size = int(off[-1])
    data = np.frombuffer(data_buf, dtype=np.uint8, count=size) if size else np.zeros(0, np.uint8)
    if pad:
        data = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    return off[:-1], np.diff(off), data


def strip(arr: pa.LargeStringArray) -> pa.LargeStringArray:
    """``str.strip()`` of every value; the array itself when no value starts or ends with
    whitespace (or a non-ASCII character), which is the common case."""
    _, off_buf, data_buf = arr.buffers()
    off = np.frombuffer(off_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    if not len(arr) or off[-1] == off[0]:
        return arr
    data = np.frombuffer(data_buf, dtype=np.uint8, count=int(off[-1]))
    block = _fixed_width(off, data)
    if block is not None:  # values of one width (or empty): first and last bytes in place
        if _edgy(block[:, 0]) or _edgy(block[:, -1]):
            return pc.utf8_trim_whitespace(arr)
        return arr
    # an empty value reads a neighbour's byte: at worst a needless strip, never a missed one
    if _edgy(data.take(off[:-1], mode="clip")) or _edgy(data.take(off[1:] - 1)):
        return pc.utf8_trim_whitespace(arr)
    return arr


def _fixed_width(off: np.ndarray, data: np.ndarray) -> np.ndarray | None:
    """The bytes of the non-empty values as rows of a 2-D view, where all have one width."""
    lens = np.diff(off)
    width = int(lens.max())
    if not width or not ((lens == width) | (lens == 0)).all():
        return None
    m = int(off[-1] - off[0]) // width
    return data[int(off[0]) : int(off[-1])].reshape(m, width)


def text_check(arr: pa.LargeStringArray, name: str, stats: dict) -> np.ndarray | None:
    """Pass mask of Pandera's built-in text checks ``isin`` and ``str_length`` (no maximum)
    over every value (a missing value fails), or None for any other check."""
    if name == "isin":
        ok = pc.is_in(arr, value_set=pa.array([str(v) for v in stats["allowed_values"]]))
    elif name == "str_length" and stats.get("max_value") is None:
        low = stats.get("min_value") or 0
        # a value has at least one character exactly when it has at least one byte
        ok = pc.greater_equal(pc.binary_length(arr) if low <= 1 else pc.utf8_length(arr), low)
    else:
        return None
    return pc.fill_null(ok, False).to_numpy(zero_copy_only=False)


def _hashes(arr: pa.LargeStringArray) -> np.ndarray:
    """A 64-bit hash of each value's bytes and length, read 8 bytes at a time (every value
    takes as many rounds as the longest one: a finished value mixes in zero words)."""
    if len(arr) and (same := _same_length(*_buffers(arr))) is not None:
        return same
    start, lens, data = _buffers(arr, pad=True)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    h = lens.astype(np.uint64) * _K1
    if not len(arr):
        return h
    longest, shortest = int(lens.max()), int(lens.min())
    at = start.copy()
    with np.errstate(over="ignore"):
        for k in range(0, longest, 8):
            w = words[at]
            if k + 8 > shortest:  # some value ends within this word: keep only its bytes
                w &= _MASKS[np.clip(lens - k, 0, 8)]
            h ^= w
            h *= _K2
            h ^= h >> np.uint64(31)
            at += 8
            np.minimum(at, len(words) - 1, out=at)
    return h


def _same_length(start: np.ndarray, lens: np.ndarray, data: np.ndarray) -> np.ndarray | None:
    """:func:`_hashes` where every value has one length or none (ids of a fixed width, some
    missing): their bytes lie back to back, read as whole words without a lookup each."""
    width = int(lens.max())
    full = lens == width
    if not width or not (full | (lens == 0)).all():
        return None
    m = int(np.count_nonzero(full))
    values = data[start[0] : start[0] + m * width]
    if width >= 8:  # words read in place, the last one overlapping its neighbour if need be
        at = [*range(0, width - 7, 8), *([width - 8] if width % 8 else [])]
        words = [
            np.ndarray((m,), dtype="<u8", buffer=values, offset=k, strides=(width,)) for k in at
        ]
    else:
        block = np.zeros((m, 8), dtype=np.uint8)
        block[:, :width] = values.reshape(m, width)
        words = [block.view("<u8")[:, 0]]
    with np.errstate(over="ignore"):
        h = np.full(m, np.uint64(width) * _K1, dtype=np.uint64)
        for w in words:
            h ^= w
            h *= _K2
            h ^= h >> np.uint64(31)
    if m == len(lens):
        return h
    out = np.zeros(len(lens), dtype=np.uint64)  # an empty value: 0 (the strings decide)
    out[full] = h
    return out


def first_duplicates(arr: pa.LargeStringArray, consider: np.ndarray) -> np.ndarray:
    """Rows (among ``consider``) whose value an earlier considered row already had."""
    out = np.zeros(len(arr), dtype=bool)
    rows = np.flatnonzero(consider)
    if len(rows) < 2:
        return out
    # the hash's high 32 bits (sorted twice as fast as 64; about n**2 / 2**33 chance pairs
    # more, which the strings decide)
    h = (_hashes(arr)[rows] >> np.uint64(32)).astype(np.uint32)
    # rows sharing a hash with another row (found by sorting the hashes, faster than a hash
    # table); hashes may collide: the strings decide
    s = np.sort(h)
    repeated = np.unique(s[1:][s[1:] == s[:-1]])
    if not len(repeated):
        return out
    # which rows hold a repeated hash: a table indexed by the hash's low bits narrows the
    # rows down (a lookup each, the table in cache), the few it keeps are looked up exactly
    table = np.zeros(int(_LOW_BITS) + 1, dtype=bool)
    table[repeated & _LOW_BITS] = True
    near = np.flatnonzero(table[h & _LOW_BITS])
    near = near[np.isin(h[near], repeated)]
    suspect = rows[near]
    values = arr.take(pa.array(suspect)).to_pylist()
    out[suspect] = pd.Series(values, dtype=object).duplicated(keep="first").to_numpy()
    return out
