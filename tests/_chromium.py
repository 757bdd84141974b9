"""Load a page in real headless Chromium over the DevTools protocol (a pipe: no extra packages).

Used by tests/test_report.py: it reports console errors, uncaught exceptions, failed loads,
each image's ``naturalWidth`` and a full-page screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--remote-debugging-pipe"]


def chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    def __init__(self, exe: str, profile: str):
        to_r, self._to_w = os.pipe()  # chrome reads commands on fd 3
        self._from_r, from_w = os.pipe()  # and writes replies on fd 4

        def fds():  # in the child: move both ends clear of 3/4 first, then dup2 (which also clears CLOEXEC)
            a, b = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read(timeout)
            if ev.get("method") == method:
                return ev

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
        return msg

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing a browser that already went away
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)


def load_page(path, screenshot=None, *, width: int = 1200) -> dict:
    """Open ``path`` (a local HTML file) and report what a reader would see.

    Returns
    -------
    dict with ``errors`` (console errors, exceptions, failed loads: list of str),
    ``images`` (naturalWidth of each ``<img>``), ``title``, ``height``.
    """
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium binary")
    with tempfile.TemporaryDirectory(prefix="seqconv-chromium-") as profile:
        cdp = _Pipe(exe, profile)
        try:
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            sid = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                cdp.send(f"{domain}.enable", session=sid)
            cdp.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
            cdp.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=sid)
            cdp.wait_event("Page.loadEventFired", timeout=60)
            state = cdp.send("Runtime.evaluate", {"returnByValue": True, "expression": """JSON.stringify({
                images: Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1),
                title: document.title, height: document.documentElement.scrollHeight})"""}, session=sid)
            info = json.loads(state["result"]["value"])
            if screenshot is not None:
                shot = cdp.send("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": info["height"], "scale": 1}}, session=sid)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        finally:
            cdp.close()
    errors = []
    for ev in cdp.events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            errors.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            errors.append("log: " + p["entry"].get("text", ""))
    info["errors"] = errors
    return info
