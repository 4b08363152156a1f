"""flb_pipeline: a Dagster code location that trades the favourite-longshot bias on Kalshi."""
