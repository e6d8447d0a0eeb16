"""A small SQL construct the broadcasts need on both SQLite and PostgreSQL."""
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean


class json_list_contains(FunctionElement):  # noqa: N801 - used like an SQL function
    """``json_list_contains(array_column, value)``: true when the JSON array holds the string.

    Used to check a membership status against a broadcast's ``product_statuses`` list.
    """
    type = Boolean()
    name = "json_list_contains"
    inherit_cache = True


@compiles(json_list_contains)
def _compile_sqlite(element, compiler, **kw):
    array, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({array}) AS je WHERE je.value = {value})"


@compiles(json_list_contains, "postgresql")
def _compile_postgresql(element, compiler, **kw):
    array, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST({array} AS JSONB) ? CAST({value} AS TEXT))"
