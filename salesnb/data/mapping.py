"""Declarative mapping options of a ``source:`` table: row filters, computed columns, generated
ids, fills and de-duplication. Nothing from params is ever evaluated as code: expressions are
parsed here into arithmetic on columns.

Each helper raises ``ValueError`` naming ``source.tables.<table>.<option>`` and the value at
fault, so an analyst can fix the params file from the message alone.
"""

from __future__ import annotations

import ast
import hashlib
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["row_filter", "compute_column", "generated_ids", "value_map", "fold", "WHERE_OPS"]

WHERE_OPS = ("in", "not_in", "matches", "not_matches", ">", ">=", "<", "<=", "empty")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


MAX_PATTERN_LENGTH = 1_000


def pattern(text: Any, *, key: str) -> Any:
    """A params regular expression compiled by RE2 (``google-re2``), whose matching time is
    linear in the text: a pattern such as ``(a+)+$`` cannot make a run hang on one cell.
    RE2 has no look-around and no back-references; such a pattern is refused by name.

    >>> bool(pattern("^C", key="k").search("C536365"))
    True
    >>> pattern("(", key="values.status.re:(")
    Traceback (most recent call last):
    ...
    ValueError: values.status.re:(: '(' is not a regular expression (missing ): ()
    """
    import re2

    text = str(text)
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"{key}: the pattern is {len(text):,} characters; at most {MAX_PATTERN_LENGTH:,}")
    options = re2.Options()
    options.log_errors = False  # the error goes into our message, not to stderr
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ("; look-around and back-references are not supported (patterns run in linear time)"
                if "perl operator" in reason or "escape sequence" in reason else "")
        raise ValueError(f"{key}: {text!r} is not a regular expression ({reason}){hint}") from None


def _numbers(values: pd.Series, to_number: Callable[[pd.Series], pd.Series]) -> pd.Series:
    return to_number(values.astype("str").where(values.notna(), ""))


def row_filter(raw: pd.DataFrame, where: Mapping[str, Any], *, where_key: str,
               to_number: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Rows to keep: every condition on a source column must hold.

    >>> raw = pd.DataFrame({"Stage": ["Won", "Prospecting", "Lost"], "Sum": ["10", "-5", ""]})
    >>> keep = row_filter(raw, {"Stage": {"not_in": ["Prospecting"]}, "Sum": {"empty": False}},
    ...                   where_key="where", to_number=lambda s: pd.to_numeric(s, errors="coerce"))
    >>> keep.tolist()
    [True, False, False]
    """
    keep = pd.Series(True, index=raw.index)
    for column, conditions in where.items():
        if column not in raw.columns:
            raise ValueError(f"{where_key}: no column {column!r} in the file (columns: "
                             f"{', '.join(map(repr, raw.columns))})")
        if not isinstance(conditions, Mapping):
            raise ValueError(f"{where_key}.{column}: give conditions such as {{in: [...]}}, "
                             f"{{matches: '^C'}} or {{'>': 0}}, not {conditions!r}")
        values = raw[column]
        text = values.astype("str").where(values.notna(), "").str.strip()
        for op, arg in conditions.items():
            place = f"{where_key}.{column}.{op}"
            if op in ("in", "not_in"):
                if not isinstance(arg, list | tuple):
                    raise ValueError(f"{place}: give a list of values, not {arg!r}")
                hit = text.isin([str(a) for a in arg])
                keep &= hit if op == "in" else ~hit
            elif op in ("matches", "not_matches"):
                search = pattern(arg, key=place).search
                hit = _on_unique(text, lambda v: bool(search(v))).astype(bool)  # noqa: B023 - used at once
                keep &= hit if op == "matches" else ~hit
            elif op in _COMPARE:
                try:
                    bound = float(arg)
                except (TypeError, ValueError):
                    raise ValueError(f"{place}: {arg!r} is not a number") from None
                numbers = _numbers(values, to_number)
                keep &= _COMPARE[op](numbers, bound).fillna(False).astype(bool)
            elif op == "empty":
                if not isinstance(arg, bool):
                    raise ValueError(f"{place}: true or false, not {arg!r}")
                keep &= (text == "") if arg else (text != "")
            else:
                raise ValueError(f"{place}: unknown condition; use one of {', '.join(WHERE_OPS)}")
    return keep


MAX_EXPRESSION_LENGTH = 1_000
MAX_EXPRESSION_DEPTH = 50
MAX_LITERAL = 1e15


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def compute_column(raw: pd.DataFrame, expression: str, *, key: str,
                   to_number: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Arithmetic on source columns: ``+ - * /``, parentheses, numbers and ``abs()``.

    A column whose name is not a plain word goes in square brackets: ``[Unit price] * Qty``.
    The expression is parsed (Python's ``ast``) and walked here; nothing is ``eval``'d.

    >>> raw = pd.DataFrame({"Quantity": ["2", "3"], "Unit price": ["1,5", "2"]})
    >>> num = lambda s: pd.to_numeric(s.str.replace(",", "."), errors="coerce")
    >>> compute_column(raw, "Quantity * [Unit price] - 1", key="k", to_number=num).tolist()
    [2.0, 5.0]
    """
    names: dict[str, str] = {}

    def bracket(m: re.Match[str]) -> str:
        names[f"_c{len(names)}"] = m.group(1)
        return f"_c{len(names) - 1}"

    if len(str(expression)) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"{key}: the expression is {len(str(expression)):,} characters; at most "
                         f"{MAX_EXPRESSION_LENGTH:,}")
    text = re.sub(r"\[([^\]]+)\]", bracket, str(expression))
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise ValueError(f"{key}: {expression!r} is not arithmetic on columns "
                         f"(use + - * /, parentheses, numbers, abs() and column names)") from None

    def walk(node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_EXPRESSION_DEPTH:
            raise ValueError(f"{key}: the expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep")
        if isinstance(node, ast.Expression):
            return walk(node.body, depth + 1)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left, depth + 1), walk(node.right, depth + 1))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = walk(node.operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            if not abs(node.value) <= MAX_LITERAL:  # also refuses inf and nan (1e999)
                raise ValueError(f"{key}: the number {_short(text[node.col_offset:node.end_col_offset])} is "
                                 f"beyond ±{MAX_LITERAL:.0e}")
            return float(node.value)
        if isinstance(node, ast.Name):
            column = names.get(node.id, node.id)
            if column not in raw.columns:
                raise ValueError(f"{key}: no column {column!r} in the file (columns: "
                                 f"{', '.join(map(repr, raw.columns))})")
            return _numbers(raw[column], to_number)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs"
                and len(node.args) == 1 and not node.keywords):
            return abs(walk(node.args[0], depth + 1))
        raise ValueError(f"{key}: {expression!r}: only + - * /, parentheses, numbers, abs() and "
                         f"column names are allowed")

    result = walk(tree)
    if not isinstance(result, pd.Series):
        return pd.Series(float(result), index=raw.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        return result.replace([np.inf, -np.inf], np.nan)


def generated_ids(raw: pd.DataFrame, how: str | Sequence[str], *, key: str) -> pd.Series:
    """Ids for a file without them: ``row`` (the file line) or a stable hash of columns.

    >>> generated_ids(pd.DataFrame({"a": ["x", "y"]}, index=[2, 3]), "row", key="k").tolist()
    ['2', '3']
    """
    if how == "row":
        return pd.Series([str(i) for i in raw.index], index=raw.index)
    columns = [how] if isinstance(how, str) else list(how)
    missing = [c for c in columns if c not in raw.columns]
    if missing or not columns:
        raise ValueError(f"{key}: give 'row' or a list of the file's columns; missing: {missing} "
                         f"(columns: {', '.join(map(repr, raw.columns))})")
    joined = raw[columns].astype("str").agg("\x1f".join, axis=1)
    return joined.map(lambda v: hashlib.sha1(v.encode("utf-8")).hexdigest()[:16])


# Latin letters that look like Cyrillic ones: CRMs (Bitrix24) mix them in stage names
_LOOKALIKE = str.maketrans("ABCEHKMOPTXaceopxyё", "АВСЕНКМОРТХасеорхуе")


def fold(text: str) -> str:
    """A text with look-alike Latin letters as Cyrillic, ё as е and spaces trimmed — for
    matching only (what is stored is the mapping's value).

    >>> fold("Cчёт") == fold("Счет")
    True
    """
    return text.strip().translate(_LOOKALIKE)


def value_map(values: pd.Series, mapping: Mapping[str, Any], *, key: str = "values") -> pd.Series:
    """Replace source texts by canonical ones; a key ``re:<pattern>`` matches by regular
    expression (the first pattern that matches wins; exact keys first, compared after
    :func:`fold`, so a stage written with a Latin "C" still matches).

    >>> value_map(pd.Series(["C536365", "536366", "x"]), {"re:^C": "cancelled", "re:^\\\\d": "completed"}).tolist()
    ['cancelled', 'completed', 'x']
    """
    exact = {fold(str(k)): v for k, v in mapping.items() if not str(k).startswith("re:")}
    patterns = [(pattern(str(k)[3:], key=f"{key}.{k}"), v) for k, v in mapping.items() if str(k).startswith("re:")]

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return v
        if fold(str(v)) in exact:
            return exact[fold(str(v))]
        for pattern, target in patterns:
            if pattern.search(str(v)):
                return target
        return v

    return _on_unique(values, one)


def _on_unique(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``values.map(func)`` computed once per distinct value (an export repeats its stages
    and statuses on every row)."""
    uniques = values.dropna().unique()
    return values.map(dict(zip(uniques, (func(u) for u in uniques), strict=True)))
