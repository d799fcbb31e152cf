"""Key rotation: re-encrypt every encrypted column with the newest key, in batches, resumably."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Column, LargeBinary, Table, Text, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Base
from models.crypto import EncryptedBytes, EncryptedJSON, EncryptedText, KeyRing

ENCRYPTED = (EncryptedText, EncryptedJSON, EncryptedBytes)
Progress = Callable[[str, int], None]


@dataclass
class RotationReport:
    seen: int = 0
    reencrypted: int = 0


def encrypted_columns() -> Iterator[tuple[Table, Column]]:  # type: ignore[type-arg]
    """Yield every encrypted column of every table, so a new one is rotated without being listed."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, ENCRYPTED):
                yield table, column


async def count_rows(engine: AsyncEngine) -> int:
    """Count the values to look at, for a progress bar."""
    total = 0
    async with engine.connect() as connection:
        for table, column in encrypted_columns():
            total += await connection.scalar(select(func.count()).select_from(table).where(column.is_not(None))) or 0
    return total


async def reencrypt(
    engine: AsyncEngine, ring: KeyRing, *, batch: int = 500, progress: Progress | None = None, max_batches: int | None = None
) -> RotationReport:
    """Re-encrypt every value not yet under the newest key; values already under it are skipped."""
    report, batches = RotationReport(), 0
    for table, column in encrypted_columns():
        (key,) = table.primary_key.columns  # every table with encrypted columns has a one-column key
        raw_type = LargeBinary() if isinstance(column.type, EncryptedBytes) else Text()
        last = None
        while True:
            if max_batches is not None and batches >= max_batches:
                return report
            query = (
                select(key, type_coerce(column, raw_type))
                .where(column.is_not(None))
                .order_by(key)
                .limit(batch)
            )
            if last is not None:
                query = query.where(key > last)
            async with engine.begin() as connection:
                rows = (await connection.execute(query)).all()
                for row_key, token in rows:
                    report.seen += 1
                    data = token if isinstance(token, bytes) else token.encode()
                    if ring.is_current(data):
                        continue
                    rotated = ring.multi.rotate(data)
                    value = rotated if isinstance(token, bytes) else rotated.decode()
                    await connection.execute(
                        update(table).where(key == row_key).values({column.name: type_coerce(value, raw_type)})
                    )
                    report.reencrypted += 1
            batches += 1
            if progress is not None:
                progress(f"{table.name}.{column.name}", len(rows))
            if len(rows) < batch:
                break
            last = rows[-1][0]
    return report
