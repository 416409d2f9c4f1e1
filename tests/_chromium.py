"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No extra Python package and no browser download: Debian's ``chromium`` and the standard library.
TensorBoard's dashboards live in shadow DOM, which ``--dump-dom`` does not serialise, so the page
text is read with ``Runtime.evaluate`` walking shadow roots and same-origin iframes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time

DEEP_TEXT_JS = r"""
(function deep(node) {
  if (!node) return '';
  if (node.nodeType === 3) return node.textContent;
  if (node.tagName === 'STYLE' || node.tagName === 'SCRIPT') return '';
  let text = '';
  if (node.shadowRoot) text += deep(node.shadowRoot) + ' ';
  if (node.tagName === 'IFRAME') {
    try { text += deep(node.contentDocument.documentElement) + ' '; } catch (e) {}
  }
  for (const child of node.childNodes) text += deep(child) + ' ';
  return text;
})(document.documentElement)
"""


def chromium_executable():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser with one page.

    Example:
        >>> with Chromium(tmp_path / "profile") as browser:
        ...     browser.goto("http://127.0.0.1:6006/#hparams")
        ...     text = browser.text()
        ...     browser.screenshot(tmp_path / "page.png")
    """

    def __init__(self, user_data_dir, width=1400, height=900):
        self.width, self.height = width, height
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire():  # the child reads commands on fd 3 and writes answers on fd 4
            import fcntl

            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 100)  # out of the way of 3 and 4
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 100)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [chromium_executable(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
             f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=wire, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._buffer = b""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                          "deviceScaleFactor": 1, "mobile": False},
                  session=True)
        self.send("Page.enable", session=True)

    def send(self, method, params=None, session=False, timeout=60):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self, deadline):
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, deadline - time.time()))
            if not ready:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def goto(self, url):
        self.send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        return " ".join((self.evaluate(DEEP_TEXT_JS) or "").split())

    def wait_for_text(self, needles, timeout=120) -> str:
        deadline = time.time() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles) or time.time() > deadline:
                return text
            time.sleep(1)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
