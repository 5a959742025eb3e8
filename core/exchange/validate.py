# ruff: noqa: S608 - the SQL is generated from a checked schema: identifiers are quoted (_q), literals escaped (_lit)
"""Set-based checking of a load with DuckDB: every row in one pass of SQL, never row by row in Python.

``check(con, schema, source, …)`` reads the source (all text), normalizes each column (full-width digits
and letters, trimmed, dates in the usual Chinese forms, 15-digit ID numbers converted to 18), computes an
error code per column, finds duplicate rows, then writes the accepted rows as Parquet parts and the
rejected ones (row, column, reason in Chinese, the value as sent) as an error file. Nothing rejected is
dropped silently: it is counted and listed.
"""

from __future__ import annotations

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
    terms = " + ".join(f"(ord(substr({s}, {i + 1}, 1)) - 48) * {w}" for i, w in enumerate(WEIGHTS))
    return f"substr({_lit(CHECK_CHARS)}, (({terms}) % 11) + 1, 1)"


def _clean(expr: str) -> str:
    return f"nullif(trim(translate({expr}, {_lit(FULL_WIDTH)}, {_lit(HALF_WIDTH)})), '')"


def _date_sql(t: str) -> str:
    formats = "[" + ", ".join(_lit(f) for f in DATE_FORMATS) + "]"
    return f"CAST(try_strptime({t}, {formats}) AS DATE)"


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
) -> CheckResult:
    from_sql, found = _source_sql(con, source, schema)
    id_col = schema.id_column
    keys = [c.key for c in schema.columns]
    raws = [
        (f"CAST({_q(found[k])} AS VARCHAR)" if k in found else "CAST(NULL AS VARCHAR)") + f" AS r_{k}" for k in keys
    ]
    cleaned = [f"{_clean(f'r_{k}')} AS t_{k}" for k in keys]
    normalized: list[str] = []
    error_exprs: list[str] = []
    errors: list[tuple[str, str]] = []  # (error column, label)
    for c in schema.columns:
        t, n = f"t_{c.key}", f"n_{c.key}"
        missing = _lit("required") if c.required else "NULL"
        if c.key == id_col:
            u = f"upper({t})"
            s17 = f"(substr({u}, 1, 6) || '19' || substr({u}, 7, 9))"
            normalized.append(
                f"CASE WHEN length({u}) = 18 AND regexp_full_match({u}, '[0-9]{{17}}[0-9X]') THEN {u} "
                f"WHEN length({u}) = 15 AND regexp_full_match({u}, '[0-9]{{15}}') "
                f"AND try_strptime(substr({s17}, 7, 8), '%Y%m%d') IS NOT NULL "
                f"THEN {s17} || {_check_digit_sql(s17)} END AS {n}"
            )
            provinces = ", ".join(_lit(p) for p in sorted(PROVINCE_CODES))
            birth = f"CAST(try_strptime(substr({n}, 7, 8), '%Y%m%d') AS DATE)"
            error_sql = (
                f"CASE WHEN {t} IS NULL THEN 'id_missing' "
                f"WHEN {n} IS NULL AND length({t}) = 15 AND regexp_full_match({t}, '[0-9]{{15}}') THEN 'id15_birth' "
                f"WHEN {n} IS NULL THEN 'id_format' "
                f"WHEN substr({n}, 1, 2) NOT IN ({provinces}) THEN 'id_province' "
                f"WHEN {birth} IS NULL OR {birth} > DATE {_lit(today.isoformat())} "
                f"OR {birth} < DATE '1880-01-01' THEN 'id_birth' "
                f"WHEN {_check_digit_sql(n)} <> substr({n}, 18, 1) THEN 'id_check' END"
            )
        elif c.type == "date":
            normalized.append(f"{_date_sql(t)} AS {n}")
            error_sql = (
                f"CASE WHEN {t} IS NULL THEN {missing} WHEN {n} IS NULL THEN 'date_format' "
                f"WHEN {n} < DATE '1900-01-01' OR {n} > DATE '2100-12-31' THEN 'date_range' END"
            )
        elif c.type in ("integer", "decimal"):
            normalized.append(f"try_cast(replace({t}, ',', '') AS {c.sql_type}) AS {n}")
            error_sql = f"CASE WHEN {t} IS NULL THEN {missing} WHEN {n} IS NULL THEN 'number' END"
        elif c.codes:
            whens = " ".join(f"WHEN {t} = {_lit(k)} THEN {_lit(k)}" for k in c.codes)
            whens += " " + " ".join(f"WHEN {t} = {_lit(v)} THEN {_lit(k)}" for k, v in c.codes.items())
            normalized.append(f"CASE {whens} END AS {n}")
            error_sql = f"CASE WHEN {t} IS NULL THEN {missing} WHEN {n} IS NULL THEN 'code' END"
        else:
            normalized.append(f"{t} AS {n}")
            error_sql = f"CASE WHEN {t} IS NULL THEN {missing} WHEN length({t}) > {MAX_TEXT} THEN 'too_long' END"
        error_exprs.append(f"{error_sql} AS e_{c.key}")
        errors.append((f"e_{c.key}", c.label))
    typed = keys
    any_error = " OR ".join(f"e_{k} IS NOT NULL" for k in keys)
    # the value as sent is kept only where the row is wrong (the error report shows it)
    keep_raw = ", ".join(f"CASE WHEN NOT ok THEN r_{k} END AS r_{k}" for k in keys)
    n_cols = ", ".join(f"n_{k}" for k in keys)
    e_cols = ", ".join(f"e_{k}" for k in keys)
    r_cols = ", ".join(f"r_{k}" for k in keys)
    t_cols = ", ".join(f"t_{k}" for k in keys)
    s1 = f"SELECT __rec, {', '.join(raws)} FROM {from_sql}"
    s2 = f"SELECT __rec, {r_cols}, {', '.join(cleaned)} FROM ({s1})"
    s3 = f"SELECT __rec, {r_cols}, {t_cols}, {', '.join(normalized)} FROM ({s2})"
    s4 = f"SELECT __rec AS row_no, {r_cols}, {n_cols}, {', '.join(error_exprs)} FROM ({s3})"
    s5 = f"SELECT *, NOT ({any_error}) AS ok FROM ({s4})"
    try:
        con.execute(
            f"CREATE TEMP TABLE checked AS SELECT row_no, {n_cols}, {e_cols}, ok, {keep_raw} FROM ({s5})"
        ).fetchall()
    except Exception as err:
        message = str(err).split("\n")[0][:200]
        raise SourceError(f"读取文件失败：{message}") from err
    _fix_row_numbers(con, source)
    # duplicates among the rows that passed: same normalized values as an earlier row
    value_cols = ", ".join(f"n_{k}" for k in typed)
    con.execute(
        "CREATE TEMP TABLE dup_groups AS SELECT h FROM ("
        f"SELECT hash({value_cols}) AS h FROM checked WHERE ok) GROUP BY h HAVING count(*) > 1"
    ).fetchall()
    con.execute(
        "CREATE TEMP TABLE dups AS SELECT row_no, first_row FROM ("
        f"SELECT row_no, min(row_no) OVER (PARTITION BY {value_cols}) AS first_row FROM checked "
        f"WHERE ok AND hash({value_cols}) IN (SELECT h FROM dup_groups)) WHERE row_no <> first_row"
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
    accepted_sql = f"SELECT {', '.join(out_cols)} FROM checked WHERE ok AND row_no NOT IN (SELECT row_no FROM dups)"
    con.execute(
        f"COPY ({accepted_sql}) TO {_lit(out_dir)} (FORMAT parquet, COMPRESSION zstd, "
        f"FILENAME_PATTERN 'part-{{i}}', FILE_SIZE_BYTES {_lit(part_bytes)}, OVERWRITE_OR_IGNORE true)"
    ).fetchall()
    # rejected rows → the error file (one line per row and column)
    reason_values = ", ".join(f"({_lit(k)}, {_lit(v)})" for k, v in REASONS.items())
    per_column = " UNION ALL ".join(
        f"SELECT row_no, {_lit(label)} AS column_label, {e} AS reason_code, r_{e[2:]} AS value "
        f"FROM checked WHERE {e} IS NOT NULL"
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
        f"SELECT count(*), count(*) FILTER (WHERE ok), min({date_expr}) FILTER (WHERE ok), "
        f"max({date_expr}) FILTER (WHERE ok) FROM checked"
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
        "SELECT c.row_no AS rn, max(r.shift) AS shift FROM checked c JOIN reject_shift r ON r.pos <= c.row_no "
        "GROUP BY c.row_no) s WHERE checked.row_no = s.rn"
    ).fetchall()
