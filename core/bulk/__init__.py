"""Bulk data work (set-based, never row by row through the ORM): joins and rules written once as Ibis
expressions, executed on DuckDB (the embedded default) or on Apache Spark (docs/checks.md)."""
