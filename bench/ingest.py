"""Department-file ingestion benchmark (issue 16): figures, not a timed test.

Generates ``--rows`` (default 10,000,000) rows of a GBK CSV for the ``pensions`` category (ID number,
Chinese name, month in four date formats, amount, pension type as code or label), with some bad rows
(check digits, dates, codes, duplicates, 15-digit old numbers), then in the same run, each in its own
process (peak RSS per process, ``os.wait4``):

- **bare**: DuckDB reading the same file into Parquet with no validation (the bytes read as latin-1:
  DuckDB has no GBK decoder without its ``encodings`` extension, so the bare read does no transcoding);
- **validated**: ``core.exchange.sources.csv_to_utf8`` (GBK → UTF-8, line endings) then
  ``core.exchange.validate.check`` (every check, duplicates, Parquet parts, the error file).

Prints rows/s, the overhead over the bare read, peak memory and the rejected rows by reason.

    .venv/bin/python bench/ingest.py [--rows N] [--threads 2] [--memory-limit 600MB] [--dir /tmp/bench-ingest]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(path: Path, rows: int) -> None:
    import duckdb

    from core.exchange.validate import _check_digit_sql

    utf8 = path.with_suffix(".utf8.csv")
    con = duckdb.connect(config={"threads": 2, "memory_limit": "600MB"})
    s17 = "('360124' || strftime(DATE '1940-01-01' + CAST(i % 20000 AS INTEGER), '%Y%m%d') || lpad(CAST((i // 20000) % 1000 AS VARCHAR), 3, '0'))"  # noqa: E501
    con.execute(
        f"""COPY (
        SELECT
          CASE WHEN i % 1000 = 1 THEN {s17} || 'Z'                           -- bad check character
               WHEN i % 5000 = 2 THEN substr({s17}, 1, 6) || substr({s17}, 9, 9)  -- a 15-digit old number
               ELSE {s17} || {_check_digit_sql(s17)} END AS 身份证号,
          ['张伟','王芳','李娜','刘洋','陈静','杨磊','赵敏','黄强'][1 + i % 8] AS 姓名,
          CASE i % 4 WHEN 0 THEN '2026-03-01' WHEN 1 THEN '2026/3/1' WHEN 2 THEN '20260301' ELSE '2026年3月1日' END
            || CASE WHEN i % 2000 = 3 THEN 'x' ELSE '' END AS 发放月份,
          CAST(1000 + (i % 2000) AS VARCHAR) || '.50' AS 发放金额,
          CASE WHEN i % 3000 = 4 THEN '未知类型' WHEN i % 2 = 0 THEN 'urban_rural' ELSE '企业职工基本养老保险' END
            AS 养老保险类型
        FROM range({rows}) t(i)
        UNION ALL
        SELECT '110101195001010000', '重复', '2026-03-01', '1.00', 'enterprise' FROM range(100)
      ) TO '{utf8}' (HEADER, DELIMITER ',')"""
    ).fetchall()
    with open(utf8, "rb") as src, open(path, "wb") as out:
        while chunk := src.read(8 * 1024 * 1024):
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            out.write(chunk[:cut].decode("utf-8").encode("gbk"))
            if rest:
                src.seek(-len(rest), 1)
    utf8.unlink()


def phase_bare(args: argparse.Namespace) -> dict:
    import duckdb

    con = duckdb.connect(
        config={
            "threads": args.threads,
            "memory_limit": args.memory_limit,
            "temp_directory": str(Path(args.dir) / "spill"),
        }
    )
    out = Path(args.dir) / "bare"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{args.file}', all_varchar = true, header = true, encoding = 'latin-1')) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd, FILENAME_PATTERN 'part-{{i}}', FILE_SIZE_BYTES '512MB')"
    ).fetchall()
    elapsed = time.perf_counter() - started
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchall()[0][0]
    return {"seconds": elapsed, "rows": rows}


def phase_validated(args: argparse.Namespace) -> dict:
    import duckdb

    from core.exchange import defaults, sources, validate
    from core.exchange.catalogue import Schema, _columns_from_json

    spec = defaults.DEFAULTS_BY_CODE["pensions"]
    schema = Schema("pensions", 1, _columns_from_json(spec["columns"]), "id_number", spec["date_column"])
    work = Path(args.dir) / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    encoding = sources.csv_to_utf8(args.file, str(work / "source.csv"))
    decoded = time.perf_counter() - started
    con = duckdb.connect(
        config={
            "threads": args.threads,
            "memory_limit": args.memory_limit,
            "temp_directory": str(Path(args.dir) / "spill"),
            "preserve_insertion_order": True,
        }
    )
    result = validate.check(
        con,
        schema,
        sources.Prepared("csv", str(work / "source.csv"), encoding),
        load_id=1,
        out_dir=str(work / "load=1"),
        errors_path=str(work / "errors.parquet"),
        today=date.today(),
        default_date=date.today(),
    )
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "decode_seconds": decoded,
        "rows": result.total,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "by_reason": result.by_reason,
        "encoding": encoding,
    }


def run_child(args: argparse.Namespace, phase: str) -> tuple[dict, float, float]:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--file",
        args.file,
        "--threads",
        str(args.threads),
        "--memory-limit",
        args.memory_limit,
        "--dir",
        args.dir,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{phase} failed")
    # MiB (Linux reports KiB); CPU seconds (user + system) tell the work apart from a busy machine's waits
    return json.loads(out), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--dir", default="/tmp/bench-ingest")
    parser.add_argument("--file")
    parser.add_argument("--phase")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase_bare(args) if args.phase == "bare" else phase_validated(args)))
        return
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    args.file = args.file or str(Path(args.dir) / f"pensions-{args.rows}.gbk.csv")
    if not Path(args.file).exists():
        t = time.perf_counter()
        generate(Path(args.file), args.rows)
        print(f"generated {args.file}: {os.path.getsize(args.file) / 1e6:,.0f} MB in {time.perf_counter() - t:.1f} s")
    bare, bare_rss, bare_cpu = run_child(args, "bare")
    checked, checked_rss, checked_cpu = run_child(args, "validated")
    overhead = (checked["seconds"] / bare["seconds"] - 1) * 100
    load = os.getloadavg()[0]
    print(
        f"rows: {checked['rows']:,} (GBK CSV, {os.path.getsize(args.file) / 1e6:,.0f} MB), threads {args.threads}, "
        f"DuckDB memory_limit {args.memory_limit}"
    )
    print(
        f"bare DuckDB read → Parquet: {bare['seconds']:.2f} s, {bare['rows'] / bare['seconds']:,.0f} rows/s, "
        f"CPU {bare_cpu:.2f} s, peak RSS {bare_rss:,.0f} MiB"
    )
    print(
        f"validated → Parquet:        {checked['seconds']:.2f} s (GBK→UTF-8 {checked['decode_seconds']:.2f} s), "
        f"{checked['rows'] / checked['seconds']:,.0f} rows/s, CPU {checked_cpu:.2f} s, peak RSS {checked_rss:,.0f} MiB"
    )
    print(
        f"overhead over the bare read: {overhead:.0f} % wall, {(checked_cpu / bare_cpu - 1) * 100:.0f} % CPU "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"accepted {checked['accepted']:,}, rejected {checked['rejected']:,}: "
        + ", ".join(f"{k} {v:,}" for k, v in checked["by_reason"].items())
    )


if __name__ == "__main__":
    main()
