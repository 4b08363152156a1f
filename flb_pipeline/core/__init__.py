"""Pure domain logic: no Dagster, no HTTP, no SQL, no wall clock (DESIGN §1, §5.5)."""
