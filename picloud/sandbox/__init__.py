"""The sandbox: the process a worker runs a job's code in, confined (its own uid, the pool's
limits, no broker or S3 credentials), talking only to its supervisor over one socket."""
