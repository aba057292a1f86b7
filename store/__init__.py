"""paperbot's SQLite data layer: see `store.store.Store`."""
from store.store import Store, probe_database, utcnow

__all__ = ["Store", "probe_database", "utcnow"]
