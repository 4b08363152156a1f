"""DuckDB store: schema, migrations, and the only module with SQL strings (DESIGN §1)."""

from flb_pipeline.store.bulk import transaction
from flb_pipeline.store.connection import Store, StoreLocked, StoreUnavailable

__all__ = ["Store", "StoreLocked", "StoreUnavailable", "transaction"]
