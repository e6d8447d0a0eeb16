"""Suppression list CSV import (every row validated, errors by line) and streamed export.

Import format: a header row naming at least ``email`` (optional ``reason`` and ``detail``;
other columns such as an export's ``source`` and ``created_at`` are ignored), or no header
and the columns ``email[,reason[,detail]]``. By default a file with any bad row imports nothing;
``skip_invalid`` imports the good rows and still lists the bad ones. Addresses already on the list
keep their entry. Exported cells that a spreadsheet would run as a formula are prefixed with '
(app.core.csv_export), and the prefix is taken off again when the file is imported.
"""
import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from ..core.csv_export import csv_stream, unquote_cell
from ..core.extensions import db
from ..core.inputs import escape_controls
from ..core.utils import utcnow
from ..mail.suppression import REASONS, Suppression
from .services import checked_address, insert_ignore

EXPORT_COLUMNS = ("email", "reason", "source", "detail", "created_at")
MAX_IMPORT_BYTES = 20 * 1024 * 1024
# Lines an upload on the admin page may hold: a request has to answer within a couple of seconds,
# and 20,000 rows took 1.1-1.5 s of CPU (2026-12-01, quiet machine, SQLite and PostgreSQL).
# Larger lists go in parts, or through ``flask suppressions import`` (no line limit).
MAX_UPLOAD_LINES = 10_000
BATCH = 1000


@dataclass
class ImportResult:
    """What an import did: rows read, added, already listed, errors as (line, message) of rows,
    and ``file_error``: why the file as a whole was not read (too large, too many lines, not
    UTF-8, empty, a header alone), which is no invalid row."""
    rows: int = 0
    added: int = 0
    already: int = 0
    errors: list = field(default_factory=list)
    applied: bool = False
    file_error: str | None = None


def _columns(first_row):
    names = [cell.strip().lower() for cell in first_row]
    if "email" in names:
        return {name: names.index(name) for name in ("email", "reason", "detail") if name in names}, True
    return {"email": 0, "reason": 1, "detail": 2}, False


def _cell(row, columns, name):
    index = columns.get(name)
    value = row[index].strip() if index is not None and index < len(row) else ""
    return unquote_cell(value)


def _check_row(row, columns, default_reason):
    try:
        email = checked_address(_cell(row, columns, "email"))
    except ValueError as error:
        return None, str(error)
    reason = _cell(row, columns, "reason").lower() or default_reason
    if reason not in REASONS:
        return None, f"reason must be one of {', '.join(REASONS)}, not {reason!r}"
    return {"email": email, "reason": reason, "source": "import",
            "detail": escape_controls(_cell(row, columns, "detail"))[:500] or None}, None


def read_csv(data: bytes, default_reason: str = "unsubscribed", max_lines: int | None = None,
             max_bytes: int | None = MAX_IMPORT_BYTES) -> tuple[list, ImportResult]:
    """Parse and validate ``data``; the valid rows (unique addresses) and the result so far.
    Past ``max_bytes`` or ``max_lines`` (None: no limit), or when it is not UTF-8 text, nothing is
    read and ``file_error`` says so; so it does for a file with no row."""
    result = ImportResult()
    if max_bytes is not None and len(data) > max_bytes:
        result.file_error = f"the file is larger than {max_bytes // (1024 * 1024)} MB"
        return [], result
    lines = data.count(b"\n") + (not data.endswith(b"\n"))  # at least the rows (a quoted cell may span lines)
    if max_lines is not None and lines > max_lines:
        result.file_error = (f"the file has {lines:,} lines; an upload takes at most {max_lines:,}: import it "
                             "in parts, or with `flask suppressions import FILE` (no line limit)")
        return [], result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        result.file_error = (f"the file is not UTF-8 text (byte {error.start + 1:,} is not UTF-8): "
                             "save it as CSV UTF-8")
        return [], result
    reader = csv.reader(io.StringIO(text, newline=""))
    valid, seen, columns = [], set(), None
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns, is_header = _columns(row)
                if is_header:
                    continue
            result.rows += 1
            checked, message = _check_row(row, columns, default_reason)
            if message:
                result.errors.append((reader.line_num, message))
            elif checked["email"] not in seen:
                seen.add(checked["email"])
                valid.append(checked)
    except csv.Error as error:
        result.errors.append((reader.line_num, f"unreadable CSV: {error}"))
    if result.rows == 0 and not result.errors:
        result.file_error = ("the file is empty" if not text.strip() else
                             "the file has no rows, only a header" if columns else "the file has no rows")
    return valid, result


def import_csv(data: bytes, default_reason: str = "unsubscribed", skip_invalid: bool = False,
               max_lines: int | None = None, max_bytes: int | None = MAX_IMPORT_BYTES) -> ImportResult:
    """Validate and import a CSV file; nothing is written when a row is bad unless ``skip_invalid``.
    ``max_lines``/``max_bytes``: as ``read_csv``.

    The caller commits. Imported rows fire no hooks (a bulk load, not a person's action).
    """
    valid, result = read_csv(data, default_reason, max_lines, max_bytes)
    if (result.errors and not skip_invalid) or not valid or result.file_error:
        return result
    now = utcnow()
    for start in range(0, len(valid), BATCH):
        batch = [dict(row, created_at=now) for row in valid[start:start + BATCH]]
        result.added += insert_ignore(Suppression, batch, ["email"])
    result.already = len(valid) - result.added
    result.applied = True
    return result


def export_csv(query=None):
    """Yield the CSV text of the suppression list (or of ``query``), in chunks, newest first."""
    query = query if query is not None else select(Suppression)
    rows = db.session.scalars(query.order_by(Suppression.created_at.desc(), Suppression.email.desc())
                              .execution_options(yield_per=BATCH))
    return csv_stream(EXPORT_COLUMNS, ((row.email, row.reason, row.source, row.detail, row.created_at)
                                       for row in rows), batch=BATCH)
