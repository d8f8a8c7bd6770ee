"""The warehouse: engine connection, loading of extracts under data contracts, quality checks, failure policy."""
