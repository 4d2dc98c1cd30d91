"""A minimal headless Chromium driver over the DevTools protocol, for the browser tests.

Opens a page with the network blocked and reports what a reader's browser would see:
console errors, requests that left the machine, images that failed, visible KPI tables,
and a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--remote-debugging-port=0", "--allow-file-access-from-files"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    images: list[bool] = field(default_factory=list)
    visible_tables: int = 0
    title: str = ""
    dialogs: list[str] = field(default_factory=list)  # alert(), confirm(), prompt() opened


class Browser:
    def __init__(self) -> None:
        exe = chromium()
        if exe is None:
            raise RuntimeError("chromium not found")
        self.profile = tempfile.TemporaryDirectory(prefix="salesnb-chromium-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        for _ in range(200):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        self.port = int(port_file.read_text().splitlines()[0])
        target = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"), timeout=10).read())
        # no Origin header: Chromium 111+ refuses DevTools connections from an origin it was not told of
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1,
                  mobile=False)
        # nothing may leave the machine: offline, and every http(s) URL blocked
        self.call("Network.emulateNetworkConditions", offline=True, latency=0,
                  downloadThroughput=-1, uploadThroughput=-1)
        self.call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*"])

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def _wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.ws.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def open(self, path: Path, screenshot: Path | None = None) -> PageReport:
        self.events.clear()
        url = path.resolve().as_uri()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        time.sleep(0.3)  # late console messages
        check = self.call("Runtime.evaluate", returnByValue=True, expression="""JSON.stringify({
            images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
            tables: [...document.querySelectorAll('table')].filter(t => t.offsetHeight > 0).length,
            title: document.title})""")
        result = json.loads(check["result"]["value"])
        report = PageReport(url, images=result["images"], visible_tables=result["tables"], title=result["title"])
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                report.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                      for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                report.console_errors.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                report.console_errors.append(p["entry"].get("text", ""))
            elif m == "Page.javascriptDialogOpening":
                report.dialogs.append(p.get("message", ""))
                self.call("Page.handleJavaScriptDialog", accept=True)
            elif m == "Network.requestWillBeSent":
                request_url = p["request"]["url"]
                if not request_url.startswith(("file:", "data:", "about:")):
                    report.network.append(request_url)
        if screenshot is not None:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": min(size["width"], 1400),
                                   "height": min(size["height"], 12000), "scale": 1})
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return report

    def print_layout(self, path: Path, *, width: int = 703) -> dict[str, Any]:
        """Lay ``path`` out as printed on A4 (print media, the page's width between 12 mm
        margins: 186 mm = 703 px): what sticks out at the right edge (a printer cuts it), and
        the charts and table rows that could be split across pages."""
        self.call("Emulation.setEmulatedMedia", media="print")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=1000, deviceScaleFactor=1, mobile=False)
        try:
            self.open(path)
            return json.loads(str(self.evaluate("""JSON.stringify((() => {
                const W = document.documentElement.clientWidth, cut = [], split = [];
                for (const el of document.querySelectorAll('table, img, svg, pre, .jp-OutputArea-output')) {
                  const r = el.getBoundingClientRect();
                  if (r.width > 0 && r.right > W + 1) cut.push(el.tagName + ' ' + (el.innerText || '').slice(0, 60));
                }
                for (const el of document.querySelectorAll('img, tr')) {
                  if (getComputedStyle(el).breakInside !== 'avoid') split.push(el.tagName);
                }
                return {width: W, scroll_width: document.documentElement.scrollWidth, cut, split,
                        images: document.images.length};
            })())""")))
        finally:
            self.call("Emulation.setEmulatedMedia", media="")
            self.call("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1,
                      mobile=False)

    def pdf(self, path: Path, out: Path) -> int:
        """Print ``path`` to a PDF at ``out`` with Chromium (A4 from the page's own @page rule);
        returns the number of pages."""
        self.open(path)
        result = self.call("Page.printToPDF", preferCSSPageSize=True, printBackground=True)
        data = base64.b64decode(result["data"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        return data.count(b"/Type /Page") - data.count(b"/Type /Pages")

    def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the open page."""
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.profile.cleanup()
