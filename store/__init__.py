"""paperbot's SQLite data layer: see `store.store.Store`."""
from store.store import LOOKUP_SOURCE, Store, probe_database, utcnow

__all__ = ["LOOKUP_SOURCE", "Store", "probe_database", "utcnow"]
