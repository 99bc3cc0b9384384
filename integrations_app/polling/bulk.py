"""Reading and writing many rows of one model in one statement: the lean half of a batch of polls."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, models

M = TypeVar("M", bound=models.Model)


def save_many(rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    """`UPDATE <table> SET <fields> WHERE id = …` for each row, as one prepared statement run for
    every row (`executemany`): the values each row holds now, prepared by their fields as `save()`
    would. Unlike `save()`, no signal is sent and nothing is derived: the caller has done that."""
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    columns = [field for name in fields if isinstance(field := meta.get_field(name), models.Field)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s"  # noqa: S608
    prepare = [_preparer(field) for field in columns]
    attnames = [field.attname for field in columns]
    params = [
        [prep(getattr(row, name)) for prep, name in zip(prepare, attnames, strict=True)] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def insert_many(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """`INSERT INTO <table> (<fields>) VALUES …` for each tuple of values, as one `executemany`: what
    `bulk_create` writes for rows whose every other column has its database default or is null,
    without building a model instance per row (at thousands of polls a minute that was most of the
    writer's time). No signal is sent and no key is read back."""
    if not rows:
        return
    meta = model._meta
    columns = [field for name in fields if isinstance(field := meta.get_field(name), models.Field)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
    prepare = [_preparer(field) for field in columns]
    params = [[prep(value) for prep, value in zip(prepare, row, strict=True)] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def read_many(
    model: type[models.Model], fields: Sequence[str], *, key: str, values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """`SELECT <fields> FROM <table> WHERE <key> IN (…)` as tuples, each value converted as the ORM
    converts it (the backend's converters, then the field's): what `values_list` reads, without
    building and compiling a queryset for it, which costs a batch's read as much as its rows do.
    In no particular order; one statement per 1,000 values."""
    meta = model._meta
    columns = [field for name in fields if isinstance(field := meta.get_field(name), models.Field)]
    key_field = meta.get_field(key)
    assert isinstance(key_field, models.Field)
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in columns)
    where = f"{quote(meta.db_table)} WHERE {quote(str(key_field.column))}"
    converters = []
    for position, field in enumerate(columns):
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        converters += [(position, converter, column) for converter in found]
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), 1000):
            chunk = list(values[start : start + 1000])
            cursor.execute(f"SELECT {names} FROM {where} IN ({', '.join(['%s'] * len(chunk))})", chunk)  # noqa: S608
            rows += cursor.fetchall()
    if not converters:
        return rows
    converted = []
    for row in rows:
        cells = list(row)
        for position, converter, column in converters:
            cells[position] = converter(cells[position], column, connection)
        converted.append(tuple(cells))
    return converted


def load_many(model: type[M], fields: Collection[str], pks: Sequence[Any]) -> dict[Any, M]:
    """`model.objects.only(*fields).in_bulk(pks)` in one `read_many`: instances by key, the columns
    not in `fields` deferred (reading one of those costs a query of its own)."""
    columns = [field for field in model._meta.concrete_fields if field.primary_key or field.name in fields]
    # A misspelt name would be deferred: read by a query of its own for every row that touches it.
    assert {field.name for field in columns} >= set(fields), f"not columns of {model.__name__}: {fields}"
    rows = read_many(model, [field.name for field in columns], key=model._meta.pk.name, values=pks)
    attnames = [field.attname for field in columns]
    key = next(position for position, field in enumerate(columns) if field.primary_key)
    return {row[key]: model.from_db(DEFAULT_DB_ALIAS, attnames, row) for row in rows}


# Django's own classes (not subclasses, which may prepare differently) whose Python values both
# database drivers take as they are: `get_db_prep_save` only converts them to the same type again.
_AS_IS: frozenset[type] = frozenset(
    {
        models.BooleanField,
        models.CharField,
        models.IntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.SmallIntegerField,
        models.ForeignKey,
    }
)


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """A field's value as the database takes it: what `get_db_prep_save` does, with its checks
    skipped for values this code set itself (an aware datetime from `timezone.now()`, a str, an
    int, a bool, a key), never a form's."""
    if type(field) is models.DateTimeField:
        return connection.ops.adapt_datetimefield_value
    if type(field) in _AS_IS:
        return _same
    return lambda value: field.get_db_prep_save(value, connection)


def _same(value: Any) -> Any:
    return value


def set_where_pk_in(model: type[models.Model], pks: Sequence[int], field_name: str, value: object) -> None:
    """`model.objects.filter(pk__in=pks).update(field=value)` in one statement per 1,000 keys, without
    the ORM's cost of building each key's lookup: at 50,000 due sources that cost the dispatch more
    than the UPDATEs themselves."""
    meta = model._meta
    field = meta.get_field(field_name)
    assert isinstance(field, models.Field)
    quote = connection.ops.quote_name
    prepared = field.get_db_prep_save(value, connection)
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 1000):
            chunk = list(pks[start : start + 1000])
            marks = ", ".join(["%s"] * len(chunk))
            sql = (
                f"UPDATE {quote(meta.db_table)} SET {quote(str(field.column))} = %s "  # noqa: S608
                f"WHERE {quote(str(meta.pk.column))} IN ({marks})"
            )
            cursor.execute(sql, [prepared, *chunk])
