"""The engine's bounded cache (the matcher's registered versions, the diagrams and pictures)."""

from __future__ import annotations

from engine.cache import LruCache


def test_it_keeps_at_most_its_size_and_nothing_at_size_zero() -> None:
    cache: LruCache[int, str] = LruCache(3)
    for n in range(10):
        assert cache.put(n, str(n)) == str(n)
    assert len(cache) == 3
    assert [cache.get(n) for n in range(10)] == [None] * 7 + ["7", "8", "9"]
    nothing: LruCache[int, str] = LruCache(0)
    assert nothing.put(1, "1") == "1" and nothing.get(1) is None and len(nothing) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(3)
    for key in "abc":
        cache.put(key, ord(key))
    assert cache.get("a") == ord("a")  # the oldest, but used
    cache.put("d", 4)
    assert cache.get("b") is None  # the oldest unused went
    assert [cache.get(k) for k in "acd"] == [ord("a"), ord("c"), 4]
    cache.put("e", 5)  # "a" was used least lately
    assert len(cache) == 3 and cache.get("e") == 5 and cache.get("a") is None
