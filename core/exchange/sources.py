"""What departments really send, made readable for DuckDB with bounded memory.

- CSV in UTF-8 (with or without a BOM) or GBK/GB18030 (with or without a BOM), any mix of CRLF, LF and
  CR line endings: copied in fixed-size chunks to a UTF-8 file with LF endings (GBK never uses CR, LF or
  the comma inside a character, so the endings are fixed byte-wise before decoding).
- XLSX: streamed with openpyxl's read-only mode into the same kind of UTF-8 CSV (dates as ISO dates).
- Parquet: read by DuckDB as it is.
- Row batches (the push API): a list of mappings, turned into an Arrow table of strings.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

CHUNK = 4 * 1024 * 1024
SNIFF_BYTES = 1024 * 1024
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (b"\x84\x31\x95\x33", "gb18030"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"


class SourceError(Exception):
    """The file cannot be read at all (Chinese message for the load's page)."""


@dataclass
class Prepared:
    kind: str  # "csv" (a UTF-8 file with LF endings) | "parquet"
    path: str
    encoding: str  # what the source was: utf-8 | gb18030 | xlsx | parquet


def sniff_format(path: str, filename: str | None = None) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    name = (filename or "").lower()
    if name.endswith((".xls",)) and head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SourceError("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传")
    return "csv"


def detect_encoding(head: bytes) -> tuple[str, int]:
    """``(encoding, bom_length)``: a BOM decides; otherwise UTF-8 when the first megabyte decodes as
    UTF-8 (a character cut at the end is allowed), else GB18030 (a superset of GBK and GB2312)."""
    for bom, name in BOMS:
        if head.startswith(bom):
            if name == "utf-8":  # some tools put a UTF-8 BOM in front of GBK text
                rest = head[len(bom) :]
                return ("utf-8" if _is_utf8(rest) else "gb18030"), len(bom)
            return name, len(bom)
    return ("utf-8" if _is_utf8(head) else "gb18030"), 0


def _is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def csv_to_utf8(path: str, out_path: str) -> str:
    """Copy a CSV to UTF-8 with LF endings, chunk by chunk; returns the source encoding."""
    with open(path, "rb") as src:
        head = src.read(SNIFF_BYTES)
        encoding, bom = detect_encoding(head)
        if encoding == "utf-16":
            raise SourceError("不支持 UTF-16 编码的文件，请另存为 UTF-8 或 GBK 编码的 CSV")
        src.seek(bom)
        decoder = None if encoding == "utf-8" else codecs.getincrementaldecoder(encoding)()
        check = codecs.getincrementaldecoder("utf-8")() if encoding == "utf-8" else None
        carry = b""
        offset = bom
        with open(out_path, "wb") as out:
            while True:
                chunk = src.read(CHUNK)
                final = not chunk
                data = carry + chunk
                carry = b""
                if not final and data.endswith(b"\r"):  # a CRLF may be cut between two chunks
                    carry, data = b"\r", data[:-1]
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                try:
                    if decoder is not None:
                        if decoder.getstate()[0] or not data.isascii():  # ASCII is the same in UTF-8
                            data = decoder.decode(data, final=final).encode("utf-8")
                    elif check is not None and (check.getstate()[0] or not data.isascii()):
                        check.decode(data, final=final)
                except UnicodeDecodeError as err:
                    raise SourceError(
                        f"文件编码无法识别：约第{offset + err.start}字节处的内容既不是UTF-8也不是GBK/GB18030编码"
                    ) from None
                out.write(data)
                offset += len(chunk)
                if final:
                    break
    return encoding


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_to_csv(path: str, out_path: str) -> None:
    """The first sheet of a workbook, streamed row by row (read-only mode keeps memory flat)."""
    from openpyxl import load_workbook

    handle = open(path, "rb")  # noqa: SIM115 - closed below; a file object: openpyxl checks no extension
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any reader failure: not a workbook we can read
        handle.close()
        raise SourceError("Excel 文件已损坏或格式不正确") from None
    try:
        sheet = book.worksheets[0]
        with open(out_path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            width = None
            for row in sheet.iter_rows(values_only=True):
                values = [_cell(v) for v in row]
                if width is None:
                    while values and values[-1] == "":
                        values.pop()
                    width = len(values)
                    if not width:
                        raise SourceError("Excel 文件的第一行应为列名")
                if not any(values):
                    continue
                writer.writerow((values + [""] * width)[:width])
    finally:
        book.close()
        handle.close()


def prepare(path: str, filename: str | None, work: Path) -> Prepared:
    kind = sniff_format(path, filename)
    if kind == "parquet":
        return Prepared("parquet", path, "parquet")
    out = str(work / "source.csv")
    if kind == "xlsx":
        xlsx_to_csv(path, out)
        return Prepared("csv", out, "xlsx")
    return Prepared("csv", out, csv_to_utf8(path, out))


def rows_to_arrow(rows: Iterable[Mapping[str, Any]], header_map: Mapping[str, str]) -> tuple[Any, list[str]]:
    """A pushed batch as an Arrow table of strings (columns: the schema keys found), with ``row_no``
    1, 2, …; returns the table and the keys it has."""
    import pyarrow as pa

    from core.exchange.catalogue import normalize_header

    columns: dict[str, list[str | None]] = {}
    count = 0
    for index, row in enumerate(rows):
        for name, value in row.items():
            key = header_map.get(normalize_header(name))
            if key is None:
                continue
            values = columns.setdefault(key, [None] * index)
            values.extend([None] * (index - len(values)))
            values.append(None if value is None else _cell(value))
        count = index + 1
    for values in columns.values():
        values.extend([None] * (count - len(values)))
    arrays = {"__row_no": pa.array(range(1, count + 1), pa.int64())}
    arrays.update({k: pa.array(v, pa.string()) for k, v in columns.items()})
    return pa.table(arrays), list(columns)


def csv_header(path: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        line = fh.readline()
    return next(csv.reader(io.StringIO(line)), [])
