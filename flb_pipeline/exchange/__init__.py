"""Everything that speaks the Kalshi Trade API v2: client, wire schema, simulator."""
