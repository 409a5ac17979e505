"""`crisiswatch demo`: the main job, started as a user starts it, used over HTTP, stopped with Ctrl-C."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from crawlers.loopback import demo_site, serve_directory
from tests.conftest import REPO, csrf_token, free_port

pytestmark = pytest.mark.slow  # every test here starts a process or a server

browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(url, data=None):
    with browser.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def log_in(base: str, output: list[str]) -> None:
    """Log in as the analyst with the password the demo printed when it made the user."""
    printed = re.search(r"demo user analyst\s+password (\S+)", "".join(output))
    assert printed, "".join(output)
    _, page = get(f"{base}/login")
    status, _ = get(f"{base}/login", {"csrf_token": csrf_token(page), "username": "analyst",
                                      "password": printed.group(1)})
    assert status == 200  # redirected to the search page


def test_demo_crawls_tags_indexes_and_serves(home_with_models):
    port = free_port()
    env = {**os.environ, "CRISISWATCH_HOME": str(home_with_models.home)}
    # Started as a shell starts a background job, with SIGINT ignored: Ctrl-C must still stop it.
    demo = subprocess.Popen([sys.executable, "-m", "crisiswatch", "demo", "--port", str(port), "--no-sample"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    reader = threading.Thread(target=lambda: [output.append(line) for line in demo.stdout], daemon=True)
    reader.start()  # the demo's output as it comes: the passwords it prints are needed to log in
    try:
        deadline, found, logged_in = time.monotonic() + 180, None, False
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                if not logged_in and any("review UI on" in line for line in output):
                    log_in(base, output)
                    logged_in = True
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
        demo.wait(timeout=60)
        reader.join(timeout=10)
    output = "".join(output)
    assert demo.returncode == 0, output
    assert "review UI on" in output and "demo stopped" in output
    assert "alerts on the demo site's posts: once its news and notices are crawled and indexed" in output
    assert all(f"demo user {name}" in output for name in ("admin", "grid_drafter", "city_approver"))


def _demo(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The demo on an empty home without training data (lexicon fallback: nothing to train)."""
    env = {**os.environ, "CRISISWATCH_HOME": str(tmp_path / "home"), "CRISISWATCH_DATA": str(tmp_path / "no-data")}
    return subprocess.run([sys.executable, "-m", "crisiswatch", "demo", "--no-sample", *args], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


def test_demo_on_a_port_in_use_says_so_before_starting_anything(tmp_path):
    """Another demo (or any server) on the port: a clear error at once, not five of
    gunicorn's bind errors buried in the output, then exit 0 after training and importing."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = _demo(tmp_path, "--port", str(port))
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert f"port {port} on 127.0.0.1 is in use" in demo.stderr and "CRISISWATCH_PORT=N" in demo.stderr
    assert "demo user" not in demo.stdout  # nothing was started: no users made, no crawls, no training


def test_demo_fails_when_its_review_ui_cannot_start(tmp_path):
    """An address that is not this machine's (TEST-NET-1): the UI cannot bind it, and the
    demo, left without its UI, stops with a failure status instead of 0."""
    demo = _demo(tmp_path, "--host", "192.0.2.1", "--port", str(free_port()))
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "the review UI stopped (exit 1)" in demo.stderr and "demo stopped" in demo.stdout


def test_the_demo_site_refuses_a_port_another_server_holds_and_shares_one_a_demo_serves(tmp_path):
    """Another site on the demo site's port: an error naming the port (every crawl of it
    would fail), not the demo saying it serves the site; a demo's own site there is shared."""
    (tmp_path / "index.html").write_text("another site", encoding="utf-8")
    other, _ = serve_directory(tmp_path)
    port = other.server_address[1]
    try:
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is in use by something that is not the demo site"):
            demo_site(port=port)
    finally:
        other.shutdown()
        other.server_close()
    site, url = demo_site(port=free_port())
    try:
        assert demo_site(port=site.server_address[1]) == (None, url)
    finally:
        site.shutdown()
        site.server_close()
