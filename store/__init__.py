"""paperbot's SQLite data layer: see `store.store.Store`."""
from store.store import Store, utcnow

__all__ = ["Store", "utcnow"]
