"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no extra packages).

Starts the system's headless Chromium with every network request blocked twice over: the
host resolver maps every name to NOTFOUND, and the Fetch domain fails every http(s)/ws
request (and records its URL). Pages are opened from ``file://`` URLs.
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
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    env = os.environ.get("ICTPLAN_CHROMIUM")
    for p in ((env,) if env else ()) + CHROMIUM_CANDIDATES:
        if p and Path(p).exists() and os.access(p, os.X_OK):
            return p
    return shutil.which("chromium")


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium driven over a pipe. Use as a context manager."""

    def __init__(self, executable: str, *, width: int = 1200, height: int = 800, timeout_s: float = 60.0):
        self.executable, self.width, self.height, self.timeout_s = executable, width, height, timeout_s
        self._id = 0
        self._buf = b""
        self.events: list[dict] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.exceptions: list[str] = []
        self.console: list[str] = []

    # ------------------------------------------------------------------ process
    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="ictplan-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write commands; chromium reads fd 3
        self._out_r, out_w = os.pipe()  # chromium writes fd 4; we read
        args = [
            self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
            f"--user-data-dir={self._profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-pipe", f"--window-size={self.width},{self.height}", "about:blank",
        ]

        def _fds():  # runs in the child: put the pipe ends on fds 3 and 4 (kept open by pass_fds)
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=_fds,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(cmd_r)
        os.close(out_w)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.call("Browser.close", timeout_s=5)
        except Exception:  # noqa: BLE001 - closing best effort
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._cmd_w, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # ------------------------------------------------------------------ protocol
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read_one(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            r, _, _ = select.select([self._out_r], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self._out_r, 1 << 20)
                if not chunk:
                    raise CDPError("Chromium closed the pipe (did it crash?)")
                self._buf += chunk
            elif self.proc.poll() is not None:
                raise CDPError(f"Chromium exited with code {self.proc.returncode}")
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _handle_event(self, msg: dict) -> None:
        method, params, session = msg.get("method"), msg.get("params", {}), msg.get("sessionId")
        if method == "Fetch.requestPaused":
            self.blocked.append(params["request"]["url"])
            self._send("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "InternetDisconnected"}, session)
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
            self._send("Page.handleJavaScriptDialog", {"accept": True}, session)
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        self.events.append(msg)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None, timeout_s: float | None = None) -> dict:
        mid = self._send(method, params, session)
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            msg = self._read_one(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self._handle_event(msg)

    def wait_event(self, method: str, *, timeout_s: float | None = None, since: int = 0) -> dict:
        for ev in self.events[since:]:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            msg = self._read_one(deadline)
            if "method" in msg:
                self._handle_event(msg)
                if msg["method"] == method:
                    return msg

    # ------------------------------------------------------------------ pages
    def open(self, path: Path, *, settle_s: float = 1.0) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for m in ("Page.enable", "Runtime.enable", "Network.enable"):
            self.call(m, session=session)
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "http://*"}, {"urlPattern": "https://*"},
                                                {"urlPattern": "ws://*"}, {"urlPattern": "wss://*"}]}, session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        # record, without running, any alert(): a second guard besides the dialog event
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": (
            "window.__ictplan_alerts=[];['alert','confirm','prompt'].forEach(function(n){"
            "window[n]=function(m){window.__ictplan_alerts.push(n+':'+String(m));};});")}, session=session)
        since = len(self.events)
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
        self.wait_event("Page.loadEventFired", since=since)
        time.sleep(settle_s)
        page.pump()
        return page


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def pump(self, seconds: float = 0.2) -> None:
        """Handle pending events (blocked requests, dialogs) for a little while."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                msg = self.browser._read_one(deadline)
                if "method" in msg:
                    self.browser._handle_event(msg)
        except CDPError:
            pass

    def eval(self, expression: str) -> Any:
        res = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                                session=self.session)
        if "exceptionDetails" in res:
            raise CDPError(f"JS error: {res['exceptionDetails'].get('exception', {}).get('description', res['exceptionDetails'])}")
        return res["result"].get("value")

    def screenshot(self) -> bytes:
        res = self.browser.call("Page.captureScreenshot", {"format": "png"}, session=self.session)
        return base64.b64decode(res["data"])

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport point (x, y): press and release, as a user does."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none"}
            if kind != "mouseMoved":
                params["clickCount"] = 1
            self.browser.call("Input.dispatchMouseEvent", params, session=self.session)
        self.pump(0.3)

    def viewport(self, width: int, height: int) -> None:
        self.browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                                 "mobile": False}, session=self.session)
        self.pump(0.3)

    def media(self, media: str) -> None:
        """Emulate a CSS media type ("print", or "" for the screen)."""
        self.browser.call("Emulation.setEmulatedMedia", {"media": media}, session=self.session)
        self.pump(0.2)

    def pdf(self) -> bytes:
        """Print the page to PDF as the browser's print dialog does, honouring the page's @page size."""
        res = self.browser.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True},
                                session=self.session, timeout_s=120)
        return base64.b64decode(res["data"])
