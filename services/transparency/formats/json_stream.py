"""JSON downloads: {"dataset": <metadata>, "rows": [<row>, ...]}, streamed in chunks of about 64 KB.
Persian text is written as UTF-8, not as \\u escapes."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from services.transparency.catalog import Dataset
from services.transparency.formats.values import in_chunks, plain, project

MEDIA_TYPE = "application/json"
CHUNK_BYTES = 64 * 1024


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=plain)


def json_chunks(dataset: Dataset, rows: Iterable[dict], meta: dict, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`meta` is the dataset's metadata (catalog.describe gives it); each row is written through the
    dataset's columns only."""
    names = dataset.column_names

    def pieces() -> Iterator[bytes]:
        yield ('{"dataset":' + dumps(meta) + ',"rows":[').encode("utf-8")
        separator = ""
        for row in rows:
            yield (separator + dumps(project(row, names))).encode("utf-8")
            separator = ","
        yield b"]}"

    return in_chunks(pieces(), chunk_bytes)
