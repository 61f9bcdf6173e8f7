"""The most recently used values up to a total weight: the caches of searchers and segments."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Recent:
    """The most recently used values, up to a total weight (a count unless `weigh` says otherwise);
    safe to share between threads. The most recent value is kept whatever its weight."""

    def __init__(self, limit: int, weigh: Callable[[object], int] = lambda _value: 1) -> None:
        self.limit = limit
        self.weigh = weigh
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._held = 0

    def get(self, key: Hashable):
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            if key in self._values:
                self._held -= self.weigh(self._values.pop(key))
            self._values[key] = value
            self._held += self.weigh(value)
            while self._held > self.limit and len(self._values) > 1:
                _, dropped = self._values.popitem(last=False)
                self._held -= self.weigh(dropped)

    def get_or_compute(self, key: Hashable, compute):
        found = self.get(key)
        if found is None:
            found = compute()
            self.put(key, found)
        return found
