"""Open a local HTML file in headless Chromium the way a reader would, via the DevTools pipe.

The DevTools protocol runs over file descriptors 3/4 (--remote-debugging-pipe), so no port is
opened; background networking is off and only the given file:// URL is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
IMAGES = (
    "JSON.stringify(Array.from(document.images).map(i => "
    "({src: i.src.slice(0, 30), width: i.naturalWidth, complete: i.complete})))"
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageCheck:
    images: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    title: str = ""


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd, self.buffer, self.next_id = write_fd, read_fd, b"", 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


def _errors(events: list[dict]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            found.append(str([a.get("value") for a in params.get("args", [])]))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(str(params["entry"].get("text")))
    return found


def _child_fds(read_fd: int, write_fd: int) -> None:
    """Chromium expects its DevTools pipe on fds 3 (commands in) and 4 (replies out)."""
    high_read, high_write = os.dup(read_fd), os.dup(write_fd)  # avoid clobbering 3/4 in between
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)


def check_page(html: Path, screenshot: Path | None = None, timeout: float = 30) -> PageCheck:
    """Load `html`, wait for the load event, report image decode state and console errors."""
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        process = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: _child_fds(to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        try:
            return _inspect(_Pipe(to_chrome_w, from_chrome_r), html, screenshot, timeout)
        finally:
            process.kill()
            process.wait()
            os.close(to_chrome_w)
            os.close(from_chrome_r)


def _inspect(pipe: _Pipe, html: Path, screenshot: Path | None, timeout: float) -> PageCheck:
    target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = pipe.send("Runtime.evaluate", {"expression": "document.readyState"}, session)
        if state["result"].get("value") == "complete":
            break
        time.sleep(0.1)
    check = PageCheck()
    images = pipe.send("Runtime.evaluate", {"expression": IMAGES}, session)
    check.images = json.loads(images["result"]["value"])
    check.title = pipe.send("Runtime.evaluate", {"expression": "document.title"}, session)[
        "result"
    ]["value"]
    if screenshot is not None:
        data = pipe.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
        import base64

        screenshot.write_bytes(base64.b64decode(data))
    check.errors = _errors(pipe.events)
    return check
