"""The published report as a person sees it: headless Chromium via chromedriver (WebDriver over HTTP).

Network is off for the browser (a dead proxy), pages open from file:// URLs.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}").get("value")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read()[:500]!r}") from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("headless Chromium and chromedriver are not installed (CI installs them in .ci/run)")
    port = _free_port()
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = WebDriver(port)
    try:
        for _ in range(100):
            try:
                wd.call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError, AssertionError):
                time.sleep(0.1)
        profile = tmp_path_factory.mktemp("chromium-profile")
        caps = {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900",
                         "--proxy-server=http://127.0.0.1:9", "--disable-dev-shm-usage"],
            },
        }
        value = wd.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        wd.sid = value["sessionId"]
        yield wd
    finally:
        if wd.sid:
            try:
                wd.s("DELETE", "")
            except Exception:  # noqa: BLE001 - best effort shutdown
                pass
        proc.terminate()
        proc.wait(timeout=20)


def _open(wd: WebDriver, path: Path) -> None:
    wd.s("POST", "/url", {"url": path.resolve().as_uri()})
    for _ in range(50):
        if wd.s("POST", "/execute/sync", {"script": "return document.readyState", "args": []}) == "complete":
            return
        time.sleep(0.1)


def _browser_errors(wd: WebDriver) -> list:
    logs = wd.s("POST", "/se/log", {"type": "browser"}) or []
    return [e for e in logs if e.get("level") == "SEVERE"]


def test_report_renders_offline_without_errors_and_images_load(driver, good_run):
    page = good_run["out"] / "current" / "iop_outcomes.html"
    _browser_errors(driver)  # drain earlier entries
    _open(driver, page)
    images = driver.s("POST", "/execute/sync", {
        "script": "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])",
        "args": []})
    # every figure drawn loads; a figure withheld (its counts are not shown) leaves a sentence saying why
    assert all(ok and w > 0 and h > 0 for ok, w, h in images), images
    n_empty = driver.s("POST", "/execute/sync", {
        "script": "return document.querySelectorAll('.iopstats-empty').length", "args": []})
    assert len(images) + n_empty >= 5
    remote = driver.s("POST", "/execute/sync", {
        "script": "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:') && !n.startsWith('file:'))",
        "args": []})
    assert remote == []
    title = driver.s("POST", "/execute/sync", {"script": "return document.querySelector('h1').textContent", "args": []})
    assert "IOP" in title
    assert _browser_errors(driver) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = base64.b64decode(driver.s("GET", "/screenshot"))
    (ARTIFACTS / "report_first_screen.png").write_bytes(png)
    assert png[:4] == b"\x89PNG" and len(png) > 10_000


def test_index_and_data_quality_pages_render(driver, good_run):
    for page in (good_run["out"] / "index.html", good_run["out"] / "current" / "data_quality.html"):
        _browser_errors(driver)
        _open(driver, page)
        text = driver.s("POST", "/execute/sync", {"script": "return document.body.innerText", "args": []})
        assert len(text) > 100
        assert _browser_errors(driver) == []
    # the index links to the current report and the link resolves
    _open(driver, good_run["out"] / "index.html")
    hrefs = driver.s("POST", "/execute/sync", {
        "script": "return Array.from(document.links).map(a => a.getAttribute('href'))", "args": []})
    assert "current/iop_outcomes.html" in hrefs
    for h in hrefs:
        assert (good_run["out"] / h).exists(), h


def _overflow(wd: WebDriver) -> list:
    """Tables wider than the page (cells cut off or a horizontal scroll bar)."""
    return wd.s("POST", "/execute/sync", {"script": (
        "const w = document.documentElement.clientWidth;"
        "return Array.from(document.querySelectorAll('table')).filter(t => t.getBoundingClientRect().right > w + 1)"
        ".map(t => (t.previousElementSibling || {}).textContent || 'table')"), "args": []})


@pytest.mark.parametrize("name", ["iop_outcomes", "data_quality"])
def test_pages_fit_at_1400_px_and_in_print(driver, good_run, name):
    """Both pages at 1,400 px and in print emulation: screenshots kept, no table wider than the page,
    and a print to A4 PDF succeeds."""
    page = good_run["out"] / "current" / f"{name}.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.s("POST", "/window/rect", {"width": 1400, "height": 1000})
    _open(driver, page)
    assert _overflow(driver) == []
    png = base64.b64decode(driver.s("GET", "/screenshot"))
    (ARTIFACTS / f"{name}_1400px.png").write_bytes(png)
    assert png[:4] == b"\x89PNG"
    driver.s("POST", "/goog/cdp/execute", {"cmd": "Emulation.setEmulatedMedia", "params": {"media": "print"}})
    driver.s("POST", "/window/rect", {"width": 794, "height": 1123})  # A4 at 96 dpi
    _open(driver, page)
    try:
        assert _overflow(driver) == []
        png = base64.b64decode(driver.s("GET", "/screenshot"))
        (ARTIFACTS / f"{name}_print.png").write_bytes(png)
        pdf = base64.b64decode(driver.s("POST", "/print", {"page": {"width": 21.0, "height": 29.7}}))
        assert pdf[:4] == b"%PDF"
        (ARTIFACTS / f"{name}_A4.pdf").write_bytes(pdf)
    finally:
        driver.s("POST", "/goog/cdp/execute", {"cmd": "Emulation.setEmulatedMedia", "params": {"media": ""}})
        driver.s("POST", "/window/rect", {"width": 1280, "height": 900})
