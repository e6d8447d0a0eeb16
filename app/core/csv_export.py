"""CSV exports for people's spreadsheets: formula-looking cells are neutralised, rows are streamed.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run as a
formula (or hide one) when a spreadsheet opens the file (CSV injection). Every export of Herald
writes its rows through ``csv_stream`` or ``safe_cell``, which prefix such a cell with ``'``.
"""
import csv
import io
from datetime import datetime
from typing import Callable, Iterable

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


def csv_response(make_chunks: Callable[[], Iterable[str]], filename: str) -> Response:
    """A streamed ``text/csv`` download named ``filename`` of the chunks ``make_chunks()`` returns
    (e.g. ``partial(csv_stream, header, rows)``).

    ``make_chunks`` is called once the body streams, not in the view: by then the request's
    database session has been closed (its app context was torn down when the view returned) and
    a new one serves the stream, so a query run in the view could not be read any more (a
    server-side cursor gone on PostgreSQL, a closed identity map on SQLite). Raises TypeError
    when ``make_chunks`` is not callable.
    """
    if not callable(make_chunks):
        raise TypeError("csv_response takes a callable that returns the chunks, called as the body streams")

    def body():
        yield from make_chunks()

    return Response(stream_with_context(body()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff"})
