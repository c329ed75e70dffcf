"""A small bounded cache that threads may share, evicting what has not been used lately."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``size`` entries; ``size`` 0 keeps nothing.

    Eviction is second chance (CLOCK), the usual approximation of least recently used: a hit
    only marks its entry, and when room is needed the oldest entries marked since they were
    last passed over go back to the end instead of out.  Keys here are long (facts, case
    states) and their hash is not kept, and moving an entry on every hit would hash and
    compare the key a second time.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()  # keeps adding and evicting one step, so the size holds

    def get(self, key: K) -> V | None:
        # Without the lock: a lookup and setting the mark are each atomic under the GIL.
        entry = self._entries.get(key)
        if entry is None:
            return None
        entry.used = True
        return entry.value

    def put(self, key: K, value: V) -> V:
        if self.size > 0:
            with self._lock:
                entries = self._entries
                if key not in entries:  # make room first, so that the new entry is not the one to go
                    while len(entries) >= self.size:
                        oldest, entry = entries.popitem(last=False)
                        if entry.used:
                            entry.used = False
                            entries[oldest] = entry
                entries[key] = _Entry(value)
        return value

    def __len__(self) -> int:
        return len(self._entries)


class _Entry(Generic[V]):
    __slots__ = ("used", "value")

    def __init__(self, value: V) -> None:
        self.value = value
        self.used = False  # used since eviction last passed over it
