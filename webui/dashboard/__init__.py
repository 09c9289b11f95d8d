"""The dashboard page: pools, queue depths, live workers, jobs per status, throughput."""
