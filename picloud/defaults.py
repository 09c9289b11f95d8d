"""One documented constant per default setting (PiCloud's where PiCloud had one)."""

from __future__ import annotations

#: API key identifying the client ('None' = no key, PiCloud's spelling).
API_KEY = "None"
#: Secret half of the API key.
API_SECRETKEY = "None"
#: URL of the web UI / HTTP API; empty = not configured.
SERVER_URL = ""
#: Run ``cloud.*`` on the local simulator even when a cluster is configured.
USE_SIMULATOR = False
#: Worker processes of the local engine; 0 = one per CPU core.
NUM_PROCS = 8
#: Capture each job's stdout/stderr so ``info`` can show it.
REDIRECT_JOB_OUTPUT = True
#: Largest serialized function + arguments of one job, in bytes.
MAX_TRANSMIT_DATA = 1_000_000
#: Redis URL of the cluster's broker; empty = find a local fleet or use the simulator.
BROKER_URL = ""
#: MinIO/S3 endpoint (``host:port`` or URL) for ``cloud.files``; empty = a local folder.
S3_ENDPOINT = ""
#: S3 access key.
S3_ACCESS_KEY = ""
#: S3 secret key.
S3_SECRET_KEY = ""
#: Bucket that holds every key's files (created when missing).
S3_BUCKET = "picloud"
#: Use HTTPS to reach the S3 endpoint (ignored when the endpoint is a full URL).
S3_SECURE = False
#: Characters of stdout/stderr that ``info`` returns (the tail).
OUTPUT_TAIL_CHARS = 64_000
#: Seconds a killed job may take to stop before its worker process is SIGKILLed.
KILL_GRACE_SECONDS = 2.0
