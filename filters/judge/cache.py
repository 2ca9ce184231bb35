"""The judge's on-disk cache: one row per finished judgment, written the moment it arrives.

Judging costs money and time, so an interrupted run must resume without asking again. Replies
are stored in SQLite (stdlib, one file, safe for several processes thanks to WAL mode) under a
hash of everything that determines the answer: the server (its base URL, credentials left
out), the model, the rendered messages and the sampling parameters; two servers that serve a
model under one name do not share verdicts. Decision thresholds are NOT part of the key: the
raw reply (text and log-probabilities) is stored, so changing `threshold` or `keep_probability`
re-decides from the cache for free.

Schema (`judgments.sqlite`): `judgments(key TEXT PRIMARY KEY, model TEXT, reply TEXT, created
REAL)`, where `reply` is the JSON of `verdict.Reply`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from auditor.credentials import strip_credentials
from auditor.errors import AuditError
from filters.judge.verdict import Reply

CACHE_FILE = "judgments.sqlite"
# Bump when the meaning of a stored reply changes, so old entries are not misread.
KEY_VERSION = 2  # 2: the server's base URL is part of the key
_LOOKUP_CHUNK = 500


def request_key(
    model: str, messages: list[dict[str, str]], params: dict[str, Any], base_url: str = ""
) -> str:
    """The cache key of one judging request to `model` at `base_url` ("" is OpenAI's own)."""
    server = strip_credentials(base_url.strip()).rstrip("/")
    material = {
        "v": KEY_VERSION,
        "server": server,
        "model": model,
        "messages": messages,
        "params": params,
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


class JudgmentCache:
    """Finished judgments by request key, persisted immediately."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: every put is its own durable transaction. check_same_thread is off
            # because the filter may run its event loop in a helper thread; access is serial.
            self._db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS judgments ("
                "key TEXT PRIMARY KEY, model TEXT NOT NULL, reply TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as error:
            raise AuditError(
                f"{self.path}: cannot open the judge cache ({error}); "
                "move the file aside or choose another cache_dir"
            ) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, Reply]:
        """The cached replies among `keys`."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Reply] = {}
        try:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, reply FROM judgments WHERE key IN ({marks})", chunk
                )
                for key, reply in rows:
                    found[key] = Reply.from_json(reply)
        except sqlite3.Error as error:
            raise AuditError(f"{self.path}: cannot read the judge cache: {error}") from None
        return found

    def put(self, key: str, model: str, reply: Reply) -> None:
        """Store one finished judgment (committed before returning)."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO judgments (key, model, reply, created) VALUES (?, ?, ?, ?)",
                (key, model, reply.to_json(), time.time()),
            )
        except sqlite3.Error as error:
            raise AuditError(f"{self.path}: cannot write the judge cache: {error}") from None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgmentCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
