"""Plain multi-row INSERTs of new rows, and their "+" history records copied from them by the database.

``bulk_create_with_history`` runs every value of every row through the ORM's insert compiler, twice (the row, then
its history record), which at 100,000 rows costs several times the database's own work. Here the values are read
straight off the instances (or the plain dicts an import makes of its rows, which cost no model instance each) and
sent as one ``INSERT … VALUES (…), (…) RETURNING id`` per batch. The history records, the same columns simple_history
would write, are then one ``INSERT … SELECT`` per batch from the rows just written: the values cross the wire once,
and the history holds what the database stored.

``BatchWriter`` runs those statements from a thread of its own, one batch at a time and in order, on the caller's
connection and so inside the caller's transaction: while the database stores one batch, the caller prepares the
next. On MariaDB the caller writes each batch's values into the statement itself, escaped by the driver, so the
writing thread only waits for the server.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from django.db import connection, connections, models

BATCH_SIZE = 2000  # rows per INSERT/UPDATE statement and per "IN (…)" lookup

Done = Callable[[list[int]], None]


def _statement_size(columns: int) -> int:
    """Rows per INSERT: BATCH_SIZE, or fewer where the backend caps the parameters of one query (SQLite)."""
    limit = connection.features.max_query_params
    return max(1, min(BATCH_SIZE, limit // columns)) if limit else BATCH_SIZE


class BatchWriter:
    """Inserts batches of new rows with their history records, each batch in the background while the next is
    prepared. ``insert`` hands over a batch and, once it is stored, calls ``done`` with the new ids (always in
    the caller's thread, and in the order the batches were given); ``flush`` waits for every batch. Use it as a
    context manager: leaving it waits for what is under way, so nothing runs after the caller's transaction ends.
    """

    def __init__(self, *, user: Any, reason: str, when: datetime.datetime) -> None:
        self.user, self.reason, self.when = user, reason, when
        # The caller's own connection object (``connection`` is a proxy to each thread's own): the writing thread
        # must run the statements in the caller's transaction.
        self.connection = connections[connection.alias]
        # Values written into the statement by the caller's thread (while the driver's connection is busy with the
        # previous batch, so escaped without it), or else sent as parameters.
        self.literal = connection.vendor == "mysql" and "NO_BACKSLASH_ESCAPES" not in connection.sql_mode
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projman-import-writer")
        self.history_statements: dict[type[models.Model], tuple[str, list[Any]]] = {}
        self.pending: deque[tuple[Future, Sequence[Any], Done]] = deque()

    def __enter__(self) -> BatchWriter:
        self.connection.inc_thread_sharing()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future, _objs, _done in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        self.pending.clear()
        self.connection.dec_thread_sharing()

    def insert(
        self, model: type[models.Model], objs: Sequence[models.Model] | Sequence[dict[str, Any]], done: Done
    ) -> None:
        """Insert ``objs`` (new, unsaved instances, which get their ids, or dicts of field attname to value where a
        field left out takes its default) and a "+" history record for each; ``done(ids)`` follows, the new ids in
        the order of ``objs``."""
        if not objs:
            done([])
            return
        statements = _prepare(model, objs, literal=self.literal)
        if model not in self.history_statements:
            self.history_statements[model] = _history_statement(
                model, user=self.user, reason=self.reason, when=self.when
            )
        history = self.history_statements[model]
        future = self.pool.submit(self._run, statements, history, len(objs))
        self.pending.append((future, objs, done))
        while len(self.pending) > 1:  # one batch stored while one is prepared: memory stays at two batches
            self._finish_one()

    def flush(self) -> None:
        while self.pending:
            self._finish_one()

    def _finish_one(self) -> None:
        future, objs, done = self.pending.popleft()
        ids = future.result()
        if isinstance(objs[0], models.Model):
            for obj, pk in zip(objs, ids, strict=True):
                obj.pk = pk
                obj._state.adding, obj._state.db = False, self.connection.alias
        done(ids)

    def _run(
        self, statements: list[tuple[str, list[Any] | None]], history: tuple[str, list[Any]], rows: int
    ) -> list[int]:
        """In the writing thread: the batch's INSERTs, then the copies of its rows into the history table."""
        ids: list[int] = []
        with self.connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                ids.extend(row[0] for row in cursor.fetchall())
            if len(ids) != rows:
                raise RuntimeError(f"{rows} rows inserted, {len(ids)} ids returned")
            # The ids are integers the database just returned: written out, they cost no parameter each, so one
            # statement copies the whole batch whatever the backend's cap on parameters.
            sql, params = history
            cursor.execute(sql.replace("{ids}", ", ".join(str(int(pk)) for pk in ids)), params)
        return ids


def _prepare(
    model: type[models.Model], objs: Sequence[models.Model] | Sequence[dict[str, Any]], *, literal: bool
) -> list[tuple[str, list[Any] | None]]:
    """The INSERT statements for ``objs``, with their parameters, or (``literal``) one with the values written in."""
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
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    tail = f" RETURNING {quote(model._meta.pk.column)}"
    rows = _values(objs, fields)
    if literal:
        return [(head + _literal_rows(rows) + tail, None)]
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = _statement_size(len(fields))
    return [
        (head + ", ".join([one] * len(part)) + tail, [value for row in part for value in row])
        for part in (rows[start : start + size] for start in range(0, len(rows), size))
    ]


def _literal_rows(rows: list[list[Any]]) -> str:
    """``(…), (…)`` with each value as a MariaDB literal, a column at a time.

    Text is escaped by the driver's ``escape_string`` without a connection: safe for the utf8mb4 connections
    ProjMan opens (no multi-byte UTF-8 character holds a quote or backslash byte), with backslash escapes on,
    which ``BatchWriter`` checks."""
    from MySQLdb._mysql import escape_string  # MariaDB only: the SQLite default installs no driver

    columns = []
    for values in zip(*rows, strict=True):
        if all(type(v) is str for v in values):  # most columns: escaped without a type check each
            columns.append([f"'{v.decode()}'" for v in map(escape_string, values)])
        else:
            columns.append([_literal(v, escape_string) for v in values])
    return ", ".join(f"({', '.join(row)})" for row in zip(*columns, strict=True))


def _literal(value: Any, escape_string: Callable[[str], bytes]) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return f"'{escape_string(value).decode()}'"
    raise TypeError(f"No SQL literal for {type(value).__name__} values")


def _history_statement(
    model: type[models.Model], *, user: Any, reason: str, when: datetime.datetime
) -> tuple[str, list[Any]]:
    """``INSERT … SELECT`` of a "+" history record for each row of ``model`` among ``{ids}`` (to be filled in),
    copied from the rows as stored, with its parameters."""
    history = model.history.model
    tracked = [f.column for f in history.tracked_fields]
    extra = {
        "history_date": connection.ops.adapt_datetimefield_value(when),
        "history_change_reason": reason,
        "history_type": "+",
        "history_user_id": getattr(user, "pk", None),
    }
    history_fields = [f for f in history._meta.concrete_fields if not f.primary_key]
    unknown = [f.column for f in history_fields if f.column not in tracked and f.attname not in extra]
    if unknown:
        raise RuntimeError(f"{history.__name__} has fields this writer does not fill: {unknown}")
    quote = connection.ops.quote_name
    columns = [*tracked, *(history._meta.get_field(name).column for name in extra)]
    pk = quote(model._meta.pk.column)
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"SELECT {', '.join(map(quote, tracked))}, {', '.join(['%s'] * len(extra))} "
        f"FROM {quote(model._meta.db_table)} WHERE {pk} IN ({{ids}}) ORDER BY {pk}"
    )
    return sql, list(extra.values())


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
