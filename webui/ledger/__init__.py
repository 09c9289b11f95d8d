"""The job ledger: Job rows written by the recorder from the Redis event stream."""
