"""Dagster metadata values for the domain's own types."""

import dagster as dg

from flb_pipeline.core.records import Count


def count_metadata(contracts: Count) -> dg.MetadataValue:
    """A contract count: an int when whole (plots and filters treat it as one), else float."""
    if isinstance(contracts, int):
        return dg.MetadataValue.int(contracts)
    return dg.MetadataValue.float(float(contracts))
