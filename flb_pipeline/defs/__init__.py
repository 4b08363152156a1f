"""The Dagster layer: thin wiring of core, exchange and store (DESIGN §1)."""
