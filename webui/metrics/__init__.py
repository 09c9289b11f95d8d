"""Prometheus metrics of the fleet at /metrics, computed at scrape time from the ledger and the
broker."""
