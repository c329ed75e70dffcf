"""A small bounded least-recently-used cache that threads may share."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``size`` entries; the least recently used goes first.  ``size`` 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()  # keeps adding and evicting one step, so the size holds

    def get(self, key: K) -> V | None:
        # Without the lock: each OrderedDict call is atomic under the GIL, and a key another
        # thread evicts between the two calls only misses its move to the end.
        value = self._entries.get(key)
        if value is not None:
            with contextlib.suppress(KeyError):
                self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        if self.size > 0:
            with self._lock:
                self._entries[key] = value
                if len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
