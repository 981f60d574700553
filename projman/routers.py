"""Where queries go when DATABASE_REPLICA_URL adds a reader endpoint (settings.py installs this router only then)."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from multidb import PinningReplicaRouter


class ReplicaRouter(PinningReplicaRouter):
    """Writes and migrations go to the writer, reads to the replica, except reads that must see a write.

    Reads stay on the writer while ``default`` is inside a transaction (the rule checks in org.services read what
    they locked), and for MULTIDB_PINNING_SECONDS after a browser's POST (multidb's PinningRouterMiddleware).
    Left out: raw SQL through ``django.db.connection`` is never routed (it runs on the writer); a write made in a
    GET sets no pin (wrap such a view in ``multidb.db_write``); the pin follows the browser's cookie, not the
    account; management commands and other code outside a request are never pinned, so outside a transaction
    they read from the replica (use ``multidb.pinning.use_primary_db`` where that matters).
    """

    def db_for_read(self, model, **hints) -> str:
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return super().db_for_read(model, **hints)
