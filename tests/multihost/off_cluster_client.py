"""A PiCloud program on a host that reaches the fleet only through its web UI (run by
test_fleet.py on host D, with an api key and the server's URL and nothing else). It prints one
JSON object: what each step saw. Its own module ``clientlib`` lives beside it only."""

from __future__ import annotations

import json
import sys
import time

import requests
from clientlib.mathx import cube

import cloud
from tests import jobfuncs as jf

CRON_WAIT = 90.0


def main() -> None:
    seen: dict[str, object] = {}
    cloud.cron.register(jf.mark_cron_run, "mark", "* * * * *")
    seen["transport"] = cloud.connection_info()["transport"]
    seen["map"] = cloud.result(cloud.map(jf.square, range(50)), timeout=120)
    jid = cloud.call(jf.write_cloud_file, "from-a-job.txt", b"written on a worker host")
    cloud.join(jid, timeout=60)
    seen["file"] = cloud.files.getf("from-a-job.txt").read().decode()
    seen["own_module"] = cloud.result(cloud.call(cube, 3), timeout=60)
    seen["fan_out"] = cloud.result(cloud.call(jf.fan_out, 5), timeout=120)
    long = cloud.call(jf.sleep_then_return, 120, "never")
    while cloud.status(long) != "processing":
        time.sleep(0.1)
    cloud.kill(long)
    seen["kill"] = cloud.status(long)
    seen["rest"] = _rest_call()
    began = time.monotonic()
    while not cloud.files.exists("cron-ran") and time.monotonic() - began < CRON_WAIT:
        time.sleep(1)
    seen["cron"] = cloud.files.exists("cron-ran")
    cloud.cron.deregister("mark")
    print(json.dumps(seen))


def _rest_call() -> object:
    """Publish ``square`` and call it as any HTTP client would (no picloud code)."""
    url = cloud.rest.publish(jf.square, "sq")
    settings = cloud.connection_info()
    base = settings["server_url"].rstrip("/")
    auth = (str(settings["api_key"]), sys.argv[1])
    jid = requests.post(url, data={"x": "7"}, auth=auth, timeout=30).json()["jid"]
    for _ in range(600):
        answer = requests.get(f"{base}/job/result/", params={"jid": jid}, auth=auth, timeout=30)
        if answer.status_code == 200:
            return answer.json()["result"]
        time.sleep(0.1)
    return None


if __name__ == "__main__":
    main()
