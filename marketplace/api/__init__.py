"""The ledger service: an SQLite index of Marketplace events, a read-only JSON API and a dashboard."""
