"""CSV exports for people's spreadsheets: formula-looking cells are neutralised, rows are streamed.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run as a
formula (or hide one) when a spreadsheet opens the file (CSV injection). Every export of Herald
writes its rows through ``csv_stream`` or ``safe_cell``, which prefix such a cell with ``'``.
"""
import csv
import io
from datetime import datetime
from typing import Iterable

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """``value`` as CSV cell text that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unquote_cell(text: str) -> str:
    """Undo ``safe_cell``'s prefix when a file Herald exported is read back (imports)."""
    return text[1:] if text.startswith("'") and text[1:2] in FORMULA_START else text


def csv_stream(header: Iterable[str], rows: Iterable[Iterable], batch: int = 1000):
    """Yield CSV text in chunks of ``batch`` rows: the header, then every row made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(name) for name in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(value) for value in row])
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(chunks, filename: str) -> Response:
    """A streamed ``text/csv`` download of ``chunks`` (from csv_stream) named ``filename``."""
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff"})
