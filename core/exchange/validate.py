# ruff: noqa: S608 - the SQL is generated from a checked schema: identifiers are quoted (_q), literals escaped (_lit)
"""Set-based checking of a load with DuckDB: every row in one pass of SQL, never row by row in Python.

``check(con, schema, source, …)`` reads the source (all text), normalizes each column (full-width digits
and letters, trimmed, dates in the usual Chinese forms, 15-digit ID numbers converted to 18), computes an
error code per column, finds duplicate rows, then writes the accepted rows as Parquet parts and the
rejected ones (row, column, reason in Chinese, the value as sent) as an error file. Nothing rejected is
dropped silently: it is counted and listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.exchange.catalogue import Schema, normalize_header
from core.exchange.sources import Prepared, SourceError
from core.idnumber import CHECK_CHARS, PROVINCE_CODES, WEIGHTS

FULL_WIDTH = "０１２３４５６７８９ＸｘＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＹＺ－／．：，　"
HALF_WIDTH = "0123456789XxABCDEFGHIJKLMNOPQRSTUVWYZ-/.:, "
DATE_FORMATS = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y.%m.%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m",
    "%Y/%m",
    "%Y年%m月",
    "%Y%m",
]
MAX_TEXT = 500
REASONS = {
    "id_missing": "身份证号码为空",
    "id_format": "身份证号码应为18位（或15位旧号码），前17位为数字，最后一位为数字或X",
    "id15_birth": "15位旧身份证号码中的出生日期不正确，无法转换为18位",
    "id_province": "身份证号码的省份代码不正确",
    "id_birth": "身份证号码中的出生日期不正确",
    "id_check": "身份证号码校验位不正确",
    "required": "必填项为空",
    "date_format": "日期格式不正确（应为2026-03-01、2026/3/1、20260301或2026年3月1日）",
    "date_range": "日期超出合理范围（1900年至2100年）",
    "number": "不是有效的数字",
    "code": "代码不在代码表中",
    "too_long": f"内容过长（超过{MAX_TEXT}个字符）",
    "duplicate": "与前面的行重复",
    "malformed": "行格式不正确（列数与表头不符或引号不成对）",
}


@dataclass
class CheckResult:
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    min_date: date | None = None
    max_date: date | None = None
    parts: list[str] = field(default_factory=list)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _check_digit_sql(s: str) -> str:
    """GB 11643 check character of the first 17 digits of the text ``s``."""
    return _check_digit_int(f"CAST(substr({s}, 1, 17) AS BIGINT)")


def _check_digit_int(n: str) -> str:
    """The check character of a 17-digit number ``n`` (a BIGINT column), in integer arithmetic (much
    faster than 17 substrings): digit i is (n // 10^(16-i)) % 10."""
    terms = " + ".join(f"(({n} // {10 ** (16 - i)}) % 10) * {w}" for i, w in enumerate(WEIGHTS))
    return f"substr({_lit(CHECK_CHARS)}, CAST((({terms}) % 11) + 1 AS INTEGER), 1)"


PROVINCE_MASK = "".join("1" if f"{i:02d}" in PROVINCE_CODES else "0" for i in range(100))


def _clean(expr: str, *, full_width: bool = True) -> str:
    """Trimmed, empty → NULL; full-width digits, letters and separators made ASCII. ``translate`` is
    costly, so it runs only on values that have one of those characters (an RE2 scan is cheap)."""
    if not full_width:
        return f"nullif(trim({expr}), '')"
    fixed = f"translate({expr}, {_lit(FULL_WIDTH)}, {_lit(HALF_WIDTH)})"
    has_full_width = f"regexp_matches({expr}, {_lit('[' + FULL_WIDTH + ']')})"
    return f"nullif(trim(CASE WHEN {has_full_width} THEN {fixed} ELSE {expr} END), '')"


def _date_sql(t: str) -> str:
    """A date in the usual forms. The form is told by a cheap test first (a list of formats tried on
    every value costs several times more): ISO by the cast, then 8 or 6 digits, 年月日, slashes, dots."""

    def fmt(*formats: str) -> str:
        if len(formats) == 1:
            return f"CAST(try_strptime({t}, {_lit(formats[0])}) AS DATE)"
        return f"CAST(try_strptime({t}, [{', '.join(_lit(f) for f in formats)}]) AS DATE)"

    return (
        f"CASE WHEN contains({t}, '年') THEN {fmt('%Y年%m月%d日', '%Y年%m月')} "
        f"WHEN contains({t}, '/') THEN {fmt('%Y/%m/%d', '%Y/%m/%d %H:%M:%S', '%Y/%m')} "
        f"WHEN contains({t}, '.') THEN {fmt('%Y.%m.%d')} "
        f"WHEN length({t}) = 8 THEN {fmt('%Y%m%d')} "
        f"WHEN length({t}) = 6 THEN {fmt('%Y%m')} "
        f"ELSE coalesce(try_cast({t} AS DATE), {fmt('%Y-%m-%d %H:%M:%S', '%Y-%m-%d', '%Y-%m')}) END"
    )


def _source_sql(con: Any, source: Prepared | Any, schema: Schema) -> tuple[str, dict[str, str]]:
    """The FROM clause (with ``__rec``, the record number) and the map schema key → source column."""
    header = schema.header_map()
    if isinstance(source, Prepared) and source.kind == "csv":
        relation = (
            f"read_csv({_lit(source.path)}, header = true, all_varchar = true, store_rejects = true, "
            f"rejects_table = 'csv_rejects', rejects_scan = 'csv_reject_scans', sample_size = 20480, "
            f"max_line_size = 1048576)"
        )
        try:
            names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        except Exception as err:
            raise SourceError("无法识别文件的列结构，请确认是逗号分隔、首行为列名的CSV文件") from err
        from_sql = f"(SELECT row_number() OVER () + 1 AS __rec, * FROM {relation})"
    elif isinstance(source, Prepared):  # parquet
        relation = f"read_parquet({_lit(source.path)}, file_row_number = true)"
        try:
            names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        except Exception as err:
            raise SourceError("Parquet 文件已损坏或无法读取") from err
        names = [n for n in names if n != "file_row_number"]
        from_sql = f"(SELECT file_row_number + 1 AS __rec, * FROM {relation})"
    else:  # an Arrow table registered as __rows
        con.register("__rows", source)
        names = [n for n in source.column_names if n != "__row_no"]
        from_sql = "(SELECT __row_no AS __rec, * FROM __rows)"
    found: dict[str, str] = {}
    for name in names:
        key = header.get(normalize_header(name))
        if key and key not in found:
            found[key] = name
    missing = [c.label for c in schema.columns if c.required and c.key not in found]
    if missing:
        raise SourceError("缺少必需的列：" + "、".join(missing))
    return from_sql, found


def check(
    con: Any,
    schema: Schema,
    source: Prepared | Any,
    *,
    load_id: int,
    out_dir: str,
    errors_path: str,
    today: date,
    default_date: date,
    part_bytes: str = "512MB",
    progress: Callable[[str, int], None] | None = None,
) -> CheckResult:
    """``progress(stage, percent)`` hears each step (40 → 95 %), for the portal and the CLI."""
    report = progress or (lambda _stage, _pct: None)
    from_sql, found = _source_sql(con, source, schema)
    id_col = schema.id_column
    keys = [c.key for c in schema.columns]
    raws = [
        (f"CAST({_q(found[k])} AS VARCHAR)" if k in found else "CAST(NULL AS VARCHAR)") + f" AS r_{k}" for k in keys
    ]
    # free text and codes keep their characters; ID numbers (upper-cased), dates and numbers are made ASCII
    # (free text is trimmed where it is used: storing a second copy costs more than trimming twice)
    plain = {c.key for c in schema.columns if c.key != id_col and c.type == "varchar" and not c.codes}
    cleaned = [
        (f"upper({_clean(f'r_{c.key}')})" if c.key == id_col else _clean(f"r_{c.key}", full_width=c.type != "varchar"))
        + f" AS t_{c.key}"
        for c in schema.columns
        if c.key not in plain
    ]
    # normalized values and the few facts about the cleaned text the errors need (so that the error step
    # copies no text but the normalized values)
    normalized: list[str] = []
    error_exprs: list[str] = []
    errors: list[tuple[str, str]] = []  # (error column, label)
    for c in schema.columns:
        t = _clean(f"r_{c.key}", full_width=False) if c.key in plain else f"t_{c.key}"
        n, empty = f"n_{c.key}", f"z_{c.key}"
        normalized.append(f"{t} IS NULL AS {empty}")
        missing = _lit("required") if c.required else "NULL"
        if c.key == id_col:
            s17 = f"(substr({t}, 1, 6) || '19' || substr({t}, 7, 9))"
            old15 = f"(length({t}) = 15 AND regexp_full_match({t}, '[0-9]{{15}}'))"
            normalized.append(
                f"CASE WHEN length({t}) = 18 AND regexp_full_match({t}, '[0-9]{{17}}[0-9X]') THEN {t} "
                f"WHEN {old15} AND try_strptime(substr({s17}, 7, 8), '%Y%m%d') IS NOT NULL "
                f"THEN {s17} || {_check_digit_sql(s17)} END AS {n}"
            )
            # the first 17 digits of an 18-character number as a BIGINT, once (the check digit uses it)
            normalized.append(
                f"CASE WHEN length({t}) = 18 THEN try_cast(substr({t}, 1, 17) AS BIGINT) END AS k_{c.key}"
            )
            normalized.append(f"{old15} AS o_{c.key}")
            birth = f"CAST(try_strptime(substr({n}, 7, 8), '%Y%m%d') AS DATE)"
            error_sql = (
                f"CASE WHEN {empty} THEN 'id_missing' "
                f"WHEN {n} IS NULL AND o_{c.key} THEN 'id15_birth' "
                f"WHEN {n} IS NULL THEN 'id_format' "
                f"WHEN substr({_lit(PROVINCE_MASK)}, CAST(substr({n}, 1, 2) AS INTEGER) + 1, 1) <> '1' "
                "THEN 'id_province' "
                f"WHEN coalesce(NOT ({birth} BETWEEN DATE '1880-01-01' AND DATE {_lit(today.isoformat())}), true) "
                "THEN 'id_birth' "
                f"WHEN k_{c.key} IS NOT NULL AND {_check_digit_int(f'k_{c.key}')} <> substr({n}, 18, 1) "
                "THEN 'id_check' END"
            )
        elif c.type == "date":
            normalized.append(f"{_date_sql(t)} AS {n}")
            error_sql = (
                f"CASE WHEN {empty} THEN {missing} WHEN {n} IS NULL THEN 'date_format' "
                f"WHEN {n} < DATE '1900-01-01' OR {n} > DATE '2100-12-31' THEN 'date_range' END"
            )
        elif c.type in ("integer", "decimal"):
            normalized.append(f"try_cast(replace({t}, ',', '') AS {c.sql_type}) AS {n}")
            error_sql = f"CASE WHEN {empty} THEN {missing} WHEN {n} IS NULL THEN 'number' END"
        elif c.codes:
            whens = " ".join(f"WHEN {t} = {_lit(k)} THEN {_lit(k)}" for k in c.codes)
            whens += " " + " ".join(f"WHEN {t} = {_lit(v)} THEN {_lit(k)}" for k, v in c.codes.items())
            normalized.append(f"CASE {whens} END AS {n}")
            error_sql = f"CASE WHEN {empty} THEN {missing} WHEN {n} IS NULL THEN 'code' END"
        else:
            normalized.append(f"{t} AS {n}")
            error_sql = f"CASE WHEN {empty} THEN {missing} WHEN length({n}) > {MAX_TEXT} THEN 'too_long' END"
        error_exprs.append(f"{error_sql} AS e_{c.key}")
        errors.append((f"e_{c.key}", c.label))
    typed = keys
    any_error = " OR ".join(f"e_{k} IS NOT NULL" for k in keys)
    ok = f"NOT ({any_error})"
    n_cols = ", ".join(f"n_{k}" for k in keys)
    r_cols = ", ".join(f"r_{k}" for k in keys)
    # materialized steps, so that no expression is evaluated again where a later one refers to it (DuckDB
    # would inline a cleaned value into every reference): the text as sent and cleaned (kept until the
    # error report has taken the values of the rejected rows), normalized values, errors
    steps = (
        f"CREATE TEMP TABLE staged AS SELECT __rec, {r_cols}{''.join(', ' + x for x in cleaned)} "
        f"FROM (SELECT __rec, {', '.join(raws)} FROM {from_sql})",
        f"CREATE TEMP TABLE normed AS SELECT __rec, {', '.join(normalized)} FROM staged",
        f"CREATE TEMP TABLE checked AS SELECT __rec, __rec AS row_no, {n_cols}, {', '.join(error_exprs)} FROM normed",
        "DROP TABLE normed",
    )
    try:
        for index, step in enumerate(steps):
            con.execute(step).fetchall()
            report("check", 40 + 40 * (index + 1) // len(steps))
    except Exception as err:  # a reader error: the file is refused with DuckDB's first line
        message = str(err).split("\n")[0][:200]
        raise SourceError(f"读取文件失败：{message}") from err
    _fix_row_numbers(con, source)
    # duplicates among the rows that passed: same normalized values as an earlier row
    value_cols = ", ".join(f"n_{k}" for k in typed)
    con.execute(
        "CREATE TEMP TABLE dup_groups AS SELECT h FROM ("
        f"SELECT hash({value_cols}) AS h FROM checked WHERE {ok}) GROUP BY h HAVING count(*) > 1"
    ).fetchall()
    con.execute(
        "CREATE TEMP TABLE dups AS SELECT row_no, first_row FROM ("
        f"SELECT row_no, min(row_no) OVER (PARTITION BY {value_cols}) AS first_row FROM checked "
        f"WHERE {ok} AND hash({value_cols}) IN (SELECT h FROM dup_groups)) WHERE row_no <> first_row"
    ).fetchall()
    # accepted rows → Parquet parts
    data_cols = [c for c in schema.columns if c.key != id_col]
    date_expr = f"coalesce(n_{schema.date_column}, DATE {_lit(default_date.isoformat())})"
    out_cols = [
        f"n_{id_col} AS id_number",
        f"{date_expr} AS effective_date",
        f"CAST({int(load_id)} AS BIGINT) AS load_id",
        "CAST(row_no AS BIGINT) AS row_no",
    ] + [f"n_{c.key} AS {_q(c.key)}" for c in data_cols]
    accepted_sql = f"SELECT {', '.join(out_cols)} FROM checked WHERE {ok} AND row_no NOT IN (SELECT row_no FROM dups)"
    report("write", 85)
    con.execute(
        f"COPY ({accepted_sql}) TO {_lit(out_dir)} (FORMAT parquet, COMPRESSION zstd, "
        f"FILENAME_PATTERN 'part-{{i}}', FILE_SIZE_BYTES {_lit(part_bytes)}, OVERWRITE_OR_IGNORE true)"
    ).fetchall()
    report("errors", 95)
    # rejected rows → the error file (one line per row and column)
    reason_values = ", ".join(f"({_lit(k)}, {_lit(v)})" for k, v in REASONS.items())
    con.execute(
        f"CREATE TEMP TABLE rejected AS SELECT c.row_no, {', '.join(e for e, _ in errors)}, {r_cols} "
        f"FROM checked c JOIN staged s ON s.__rec = c.__rec WHERE ({any_error})"
    ).fetchall()
    con.execute("DROP TABLE staged").fetchall()
    per_column = " UNION ALL ".join(
        f"SELECT row_no, {_lit(label)} AS column_label, {e} AS reason_code, r_{e[2:]} AS value "
        f"FROM rejected WHERE {e} IS NOT NULL"
        for e, label in errors
    )
    dup_rows = (
        "SELECT d.row_no, NULL AS column_label, 'duplicate' AS reason_code, "
        "'与第' || d.first_row || '行重复' AS value FROM dups d"
    )
    parts = [per_column, dup_rows]
    if _has_rejects(con, source):
        parts.append(
            "SELECT line AS row_no, NULL AS column_label, 'malformed' AS reason_code, "
            "left(csv_line, 200) AS value FROM csv_rejects"
        )
    errors_sql = (
        "SELECT CAST(e.row_no AS BIGINT) AS row_no, e.column_label, e.reason_code, r.reason, e.value "
        f"FROM ({' UNION ALL '.join(parts)}) e "
        f"JOIN (VALUES {reason_values}) r(code, reason) ON r.code = e.reason_code ORDER BY e.row_no"
    )
    con.execute(f"COPY ({errors_sql}) TO {_lit(errors_path)} (FORMAT parquet, COMPRESSION zstd)").fetchall()
    # counts
    result = CheckResult()
    total, ok_rows, min_d, max_d = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {ok}), min({date_expr}) FILTER (WHERE {ok}), "
        f"max({date_expr}) FILTER (WHERE {ok}) FROM checked"
    ).fetchall()[0]
    dup_count = con.execute("SELECT count(*) FROM dups").fetchall()[0][0]
    malformed = con.execute("SELECT count(*) FROM csv_rejects").fetchall()[0][0] if _has_rejects(con, source) else 0
    result.total = int(total) + int(malformed)
    result.accepted = int(ok_rows) - int(dup_count)
    result.rejected = result.total - result.accepted
    result.min_date, result.max_date = min_d, max_d
    result.by_reason = {
        code: int(n)
        for code, n in con.execute(
            f"SELECT reason_code, count(DISTINCT row_no) FROM read_parquet({_lit(errors_path)}) "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    }
    return result


def _has_rejects(con: Any, source: Any) -> bool:
    if not (isinstance(source, Prepared) and source.kind == "csv"):
        return False
    rows = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'csv_rejects'").fetchall()
    return bool(rows[0][0])


def _fix_row_numbers(con: Any, source: Any) -> None:
    """Record numbers count only the rows DuckDB read: shift them past the malformed lines it set aside
    (their line numbers are known), so ``row_no`` is the row in the file (the header is row 1)."""
    if not _has_rejects(con, source):
        return
    n = con.execute("SELECT count(*) FROM csv_rejects").fetchall()[0][0]
    if not n:
        return
    con.execute(
        "CREATE TEMP TABLE reject_shift AS SELECT line - row_number() OVER (ORDER BY line) AS pos, "
        "row_number() OVER (ORDER BY line) AS shift FROM (SELECT DISTINCT line FROM csv_rejects)"
    ).fetchall()
    con.execute(
        "UPDATE checked SET row_no = checked.row_no + s.shift FROM ("
        "SELECT c.row_no AS rn, max(r.shift) AS shift FROM checked c JOIN reject_shift r ON r.pos < c.row_no "
        "GROUP BY c.row_no) s WHERE checked.row_no = s.rn"
    ).fetchall()
