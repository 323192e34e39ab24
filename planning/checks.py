"""Checks shared by every reader of a table: the file reads, has its columns, its numbers are
numbers and its keys are given once.

Every failure is a planning error (``DataError`` unless the caller passes another class) that names
the file, the column, the line (and the area's code and name where there is one), what was
expected and how to fix it.
"""

from __future__ import annotations

import difflib
import gzip
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from planning.errors import DataError, PlanningError

#: How many bad rows a message lists before "and N more".
SHOWN = 10
#: Markers the DfE uses for a value it does not publish (PROVENANCE.md section 5).
SUPPRESSED = frozenset({"c", "x", "z", "k", "u", "low", ":", ""})


def listed(items: list[str], limit: int = SHOWN) -> str:
    """The first ``limit`` items joined by commas, then how many more."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _unreadable(path: Path, what: str, reason: str, error: type[PlanningError]) -> PlanningError:
    return error(f"{what}: {path} {reason}")


def _header(path: Path, what: str, error: type[PlanningError]) -> list[str]:
    """The file's first row, as written (pandas would rename a repeated column)."""
    first = pd.read_csv(
        path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    names = [str(c).strip() for c in first.iloc[0]] if len(first) else []
    lowered = [n.lower() for n in names]
    repeated = sorted(
        {n for n, low in zip(names, lowered, strict=True) if low and lowered.count(low) > 1}
    )
    if repeated:
        raise error(
            f"{what}: {path} has the column(s) {listed(repeated)} more than once; keep one "
            "column of each name"
        )
    return names


def read_csv(
    path: Path | str,
    what: str,
    columns: list[str],
    *,
    only_columns: bool = False,
    error: type[PlanningError] = DataError,
) -> pd.DataFrame:
    """A CSV (plain or .gz) as text, with its ``columns`` present (matched ignoring case and
    spaces, renamed to the names given) and wholly blank rows dropped; the index is the row
    number, so line = index + 2. ``only_columns`` keeps just those columns.

    A missing, empty, truncated, corrupt or non-UTF-8 file, a repeated column or a missing
    (e.g. renamed) column is an ``error`` naming the file and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{what}: file not found: {path}")
    try:
        names = _header(path, what, error)
        if not names:
            raise pd.errors.EmptyDataError
        found = {n.lower(): n for n in names}
        absent = [c for c in columns if c.lower() not in found]
        if absent:
            problems = []
            for col in absent:
                close = difflib.get_close_matches(col.lower(), list(found), n=1, cutoff=0.6)
                hint = f" (is '{found[close[0]]}' it, renamed?)" if close else ""
                problems.append(f"column '{col}' is missing{hint}")
            raise error(
                f"{what}: {path} lacks column(s) the planner reads; found "
                f"{listed(names, 20)}. Restore the column names (or download the file again):",
                problems,
            )
        with warnings.catch_warnings():  # a row longer than the header loses data: refuse it
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path,
                index_col=False,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skip_blank_lines=False,
            )
    except pd.errors.EmptyDataError:
        raise _unreadable(
            path, what, "is empty (0 bytes or no header row); export or download it again", error
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise _unreadable(
            path,
            what,
            f"is not a well-formed CSV ({exc}); every row needs the "
            "header's number of fields (quote values that contain commas)",
            error,
        ) from None
    except UnicodeDecodeError as exc:
        raise _unreadable(
            path,
            what,
            f"is not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8 CSV",
            error,
        ) from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise _unreadable(
            path, what, f"is truncated or corrupt ({exc}); download it again", error
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    table = table.rename(columns={found[c.lower()]: c for c in columns})
    if only_columns:
        table = table[columns]
    table = table.fillna("")
    for col in table.columns:
        table[col] = table[col].str.strip()
    return table[(table != "").any(axis=1)]


def _where(index: int, key: pd.Series | None, names: Mapping[str, str] | None) -> str:
    """``line N, CODE (name)``: where a row is in its file, and the area it is about."""
    text = f"line {index + 2}"
    if key is not None:
        code = key[index]
        name = names.get(code) if names is not None else None
        text += f", {code}" + (f" ({name})" if name else "")
    return text


def numbers(
    table: pd.DataFrame,
    column: str,
    what: str,
    *,
    key: str | None = None,
    names: Mapping[str, str] | None = None,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    whole: bool = False,
    blank: frozenset[str] = frozenset(),
    error: type[PlanningError] = DataError,
) -> pd.Series:
    """``table[column]`` as finite floats, NaN where the text is one of ``blank`` (e.g. "" or
    the DfE's suppression markers). Anything else that is not a number within the limits
    (n/a, text, inf, nan, negative, fractional where ``whole``) is an ``error`` listing each
    line with its area (``key`` column, named from ``names``) and the value found."""
    text = table[column].astype(str)
    allowed_blank = text.str.lower().isin(blank)
    values = pd.to_numeric(text.where(~allowed_blank), errors="coerce")
    bad = ~allowed_blank & ~np.isfinite(values.fillna(np.inf))
    if minimum is not None:
        bad |= values < minimum
    if maximum is not None:
        bad |= values > maximum
    if whole:
        bad |= values.notna() & (values % 1 != 0)
    if bad.any():
        keys = table[key] if key is not None else None
        shown = [f"{_where(i, keys, names)}: {text[i]!r}" for i in table.index[bad]]
        limits = [
            "a whole number" if whole else "a number",
            f"at least {minimum:g}" if minimum is not None else "",
            f"at most {maximum:g}" if maximum is not None else "",
        ]
        expected = ", ".join(p for p in limits if p)
        blanks = sorted(b for b in blank if b)
        allowed = (
            " (or blank" + (f" or one of {', '.join(blanks)}" if blanks else "") + ")"
            if blank
            else ""
        )
        raise error(
            f"{what}: column {column} must be {expected}{allowed}: no text such as n/a, no "
            f"inf or nan, no thousands commas; {int(bad.sum())} bad value(s). Correct these "
            "rows (or download the file again):",
            [listed(shown)],
        )
    return values.astype(float)


def unique(
    table: pd.DataFrame,
    keys: list[str],
    what: str,
    *,
    names: Mapping[str, str] | None = None,
    error: type[PlanningError] = DataError,
) -> None:
    """Raise ``error`` if a value of ``keys`` (an area code, a site, an area and site pair) is on
    more than one row, naming each repeated key (with its area name) and its lines."""
    doubled = table[table.duplicated(keys, keep=False)]
    if doubled.empty:
        return
    shown = []
    for key, rows in doubled.groupby(keys, sort=True):
        parts = key if isinstance(key, tuple) else (key,)
        name = names.get(str(parts[0])) if names is not None else None
        first = f"{parts[0]}" + (f" ({name})" if name else "")
        label = ", ".join([first, *(str(p) for p in parts[1:])])
        lines = ", ".join(str(int(i) + 2) for i in rows.index)
        shown.append(f"{label} on lines {lines}")
    raise error(
        f"{what}: each {', '.join(keys)} must be on one row; {len(shown)} repeated. Keep one "
        "row for each:",
        [listed(shown)],
    )
