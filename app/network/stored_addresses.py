"""Stored addresses the address rules refuse or write differently, for `flask check`; never rewritten."""
from dataclasses import dataclass, field

from sqlalchemy import select

from ..auth.models import User
from ..core.extensions import db
from ..mail.addresses import stored_problem
from ..mail.suppression import Suppression
from .models import Customer

EXAMPLES = 20  # problems listed per table; all are counted
BATCH = 5000


@dataclass
class TableReport:
    """The address problems of one table: ``checked`` rows, ``count`` with a problem, the first
    ``EXAMPLES`` as ``(row key, problem)``."""
    table: str
    checked: int = 0
    count: int = 0
    examples: list = field(default_factory=list)


SOURCES = (("customers", Customer.id, Customer.email, False),  # (table, row key, address, in lower case)
           ("users", User.id, User.email, False),
           ("suppressions", Suppression.email, Suppression.email, True))


def stored_address_reports(examples: int = EXAMPLES) -> list[TableReport]:
    """Read every stored address of customers, users and the suppression list (in batches of
    ``BATCH`` rows, about a microsecond per plain address) and report the problems per table.
    Raises SQLAlchemyError when a table is missing (an unmigrated database)."""
    reports = []
    for table, key, column, lower in SOURCES:
        report = TableReport(table)
        for row_key, address in db.session.execute(select(key, column).order_by(key)
                                                   .execution_options(yield_per=BATCH)):
            report.checked += 1
            problem = stored_problem(address or "", key=lower)
            if problem is not None:
                report.count += 1
                if len(report.examples) < examples:
                    report.examples.append((row_key, problem))
        reports.append(report)
    return reports


def report_lines(reports: list[TableReport]) -> list[str]:
    """The lines `flask check` prints: one per table, then its examples."""
    lines = []
    for report in reports:
        if not report.count:
            lines.append(f"addresses ok: {report.table} ({report.checked:,} checked)")
            continue
        lines.append(f"addresses to fix by hand: {report.table}, {report.count:,} of {report.checked:,} "
                     f"(not rewritten; first {len(report.examples)}):")
        lines += [f"  {report.table} {row_key}: {problem}" for row_key, problem in report.examples]
    return lines
