"""`crisiswatch demo`: the main job, started as a user starts it, used over HTTP, stopped with Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO, free_port


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


@pytest.mark.slow
def test_demo_crawls_tags_indexes_and_serves(home_with_models):
    port = free_port()
    env = {**os.environ, "CRISISWATCH_HOME": str(home_with_models.home)}
    # Started as a shell starts a background job, with SIGINT ignored: Ctrl-C must still stop it.
    demo = subprocess.Popen([sys.executable, "-m", "crisiswatch", "demo", "--port", str(port), "--no-sample"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, found = time.monotonic() + 180, None
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                _, body = get(f"{base}/api/search?q=%E5%81%9C%E7%94%B5&per_page=50")  # 停电
                found = json.loads(body)
                if {"news", "gov"} <= {f["value"] for f in found["facets"]["platform"]}:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert found and found["total"] >= 10, found
        assert all(hit["tags"] for hit in found["hits"])  # tagged before it was indexed
        status, page = get(f"{base}/?q=%E5%8F%B0%E9%A3%8E")  # 台风
        assert status == 200 and "滨海" in page and "<mark>" in page and 'lang="zh-CN"' in page
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    assert "review UI on" in output and "demo stopped" in output
