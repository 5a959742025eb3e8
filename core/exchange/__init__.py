"""Department data exchange: departments and their API clients, signed requests, the data catalogue,
ingestion into Parquet, and death/cremation events (docs/exchange.md)."""
