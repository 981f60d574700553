"""Files uploaded in the admin that wait for their confirmation, kept in the database in parts.

Two app servers may answer one user in turn: the preview on one, the confirmation on the other. A file on one
server's disk (where ``PrivateTmp`` hides it even from the same server's other services) would be lost to the
other; in the database every app server finds it, on the writer, and replication keeps it with the rest if the
writer fails over. A file is claimed under a row lock, so a second click on "Confirm" finds it gone.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from org.models import PendingImport, PendingImportPart

PART_BYTES = 1024 * 1024  # well under MariaDB's max_allowed_packet (16 MiB by default)
PENDING_SECONDS = 3600


def keep(user: Any, data: bytes, *, kind: str, format: str, encoding: str, filename: str, member_role: str = "") -> int:
    """Store ``data`` for ``user`` and return its id; files left waiting past their hour are deleted first."""
    with transaction.atomic():
        purge()
        pending = PendingImport.objects.create(
            user=user,
            kind=kind,
            format=format,
            encoding=encoding,
            member_role=member_role,
            filename=filename[:255],
            size=len(data),
        )
        PendingImportPart.objects.bulk_create(
            (
                PendingImportPart(pending=pending, number=n, data=data[start : start + PART_BYTES])
                for n, start in enumerate(range(0, len(data), PART_BYTES))
            ),
            batch_size=1,  # one part per statement: MariaDB's backend would otherwise send them all in one packet
        )
    return pending.pk


def claim(pk: Any, user: Any) -> tuple[PendingImport, bytes] | None:
    """``user``'s waiting file ``pk`` and its bytes, locked until the caller's transaction ends; None if there is
    none (never uploaded, someone else's, past its hour, or already confirmed)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("claim() must run inside the transaction that imports the file and deletes it")
    pending = (
        PendingImport.objects.select_for_update().filter(pk=pk, user=user, created__gte=_cutoff()).first()
        if isinstance(pk, int)
        else None
    )
    if pending is None:
        return None
    parts = pending.parts.order_by("number").values_list("data", flat=True)
    data = b"".join(bytes(part) for part in parts)
    return (pending, data) if len(data) == pending.size else None


def purge() -> int:
    """Delete the files that waited past their hour; returns how many. One that a confirmation holds (claimed just
    before its hour ran out) is skipped, not waited for."""
    with transaction.atomic():
        expired = PendingImport.objects.select_for_update(skip_locked=True).filter(created__lt=_cutoff())
        ids = list(expired.values_list("pk", flat=True))
        return PendingImport.objects.filter(pk__in=ids).delete()[1].get(PendingImport._meta.label, 0)


def _cutoff() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=PENDING_SECONDS)
