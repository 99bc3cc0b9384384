"""Writing many rows of one model in one statement: the lean half of a batch of polls."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


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
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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
