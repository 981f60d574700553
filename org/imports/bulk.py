"""Plain multi-row INSERTs of new rows and of their "+" history records.

``bulk_create_with_history`` runs every value of every row through the ORM's insert compiler, twice (the row, then
its history record), which at 100,000 rows costs several times the database's own work. Here the values are read
straight off the instances (or the plain dicts an import makes of its rows, which cost no model instance each) and
sent as one ``INSERT … VALUES (…), (…) RETURNING id`` per batch; the history records, which need the new ids, follow
with the same columns simple_history would write. Both run inside the caller's transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

BATCH_SIZE = 2000  # rows per INSERT/UPDATE statement and per "IN (…)" lookup


def _statement_size(columns: int) -> int:
    """Rows per INSERT: BATCH_SIZE, or fewer where the backend caps the parameters of one query (SQLite)."""
    limit = connection.features.max_query_params
    return max(1, min(BATCH_SIZE, limit // columns)) if limit else BATCH_SIZE


def _insert(table: str, columns: list[str], rows: Sequence[Sequence[Any]], *, returning: bool) -> list[int]:
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: list[int] = []
    size = _statement_size(len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            sql = head + ", ".join([one] * len(part)) + (" RETURNING id" if returning else "")
            cursor.execute(sql, [value for row in part for value in row])
            if returning:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids


def insert_with_history(
    model: type[models.Model],
    objs: Sequence[models.Model] | Sequence[dict[str, Any]],
    *,
    user: Any,
    reason: str,
    when: datetime.datetime,
) -> list[int]:
    """Insert ``objs`` and write a "+" history record for each; return the new ids, in order.

    ``objs`` are new, unsaved instances (which get their ids), or dicts of field attname to value, where a field
    left out takes its default."""
    if not objs:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if isinstance(objs[0], dict):
        defaults = {f.attname: f.get_default() for f in fields}
        objs = [{**defaults, **obj} for obj in objs]
    else:
        relations = [f for f in fields if f.is_relation]
        for obj in objs:  # a foreign key set to an object inserted earlier in this import: take its id now
            for field in relations:
                related = field.get_cached_value(obj, None)
                if related is not None and getattr(obj, field.attname) is None:
                    setattr(obj, field.attname, related.pk)
    ids = _insert(model._meta.db_table, [f.column for f in fields], _values(objs, fields), returning=True)
    if len(ids) != len(objs):
        raise RuntimeError(f"{model.__name__}: {len(objs)} rows inserted, {len(ids)} ids returned")
    if isinstance(objs[0], dict):
        for obj, pk in zip(objs, ids, strict=True):
            obj[model._meta.pk.attname] = pk
    else:
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
    history = model.history.model
    tracked = {f.attname for f in history.tracked_fields}
    extra = {
        "history_date": connection.ops.adapt_datetimefield_value(when),
        "history_change_reason": reason,
        "history_type": "+",
        "history_user_id": getattr(user, "pk", None),
    }
    history_fields = [f for f in history._meta.concrete_fields if not f.primary_key]
    unknown = [f.attname for f in history_fields if f.attname not in tracked and f.attname not in extra]
    if unknown:
        raise RuntimeError(f"{history.__name__} has fields this writer does not fill: {unknown}")
    copied = [f for f in history_fields if f.attname in tracked]
    rows = _values(objs, copied)
    if len(copied) < len(history_fields):
        columns = [f.column for f in copied] + [history._meta.get_field(name).column for name in extra]
        rows = [[*row, *extra.values()] for row in rows]
    else:
        columns = [f.column for f in copied]
    _insert(history._meta.db_table, columns, rows, returning=False)
    return ids


def _values(objs: Sequence[models.Model] | Sequence[dict[str, Any]], fields: Sequence[models.Field]) -> list[list[Any]]:
    """The rows as the database driver takes them: dates adapted the way the ORM would, the rest as they are
    (text, numbers, booleans and ids need no conversion for either backend)."""
    plain = [f.attname for f in fields]
    dated = [
        i for i, f in enumerate(fields) if isinstance(f, models.DateField) and not isinstance(f, models.DateTimeField)
    ]
    adapt = connection.ops.adapt_datefield_value
    rows = []
    for obj in objs:
        row = [obj[name] for name in plain] if isinstance(obj, dict) else [getattr(obj, name) for name in plain]
        for i in dated:
            row[i] = adapt(row[i])
        rows.append(row)
    return rows
