"""A minimal W3C WebDriver client over ``requests`` for Debian's chromedriver.

The browser test needs a handful of commands (open a page, type, click, run a script, take
a screenshot); the protocol is plain HTTP + JSON, so a client library would add a
dependency and little else.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.integration.conftest import free_port, wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"


STALE_RETRIES = 3


class WebDriverError(AssertionError):
    pass


class Browser:
    """One headless Chromium session driven through a chromedriver process."""

    def __init__(self, width: int = 1280, height: int = 1600) -> None:
        missing = [tool for tool in (CHROMIUM, CHROMEDRIVER) if shutil.which(tool) is None]
        if missing:
            raise WebDriverError(
                f"{' and '.join(missing)} not installed: run scripts/setup.sh "
                "(apt-get install chromium chromium-driver)"
            )
        port = free_port()
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}"
        wait_until(self._driver_ready, 30, "chromedriver to start")
        options = {
            "binary": shutil.which(CHROMIUM),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--window-size={width},{height}",
            ],
        }
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        session = self._call("POST", "/session", {"capabilities": capabilities})
        self.session = f"/session/{session['sessionId']}"

    def _driver_ready(self) -> bool:
        try:
            return bool(requests.get(f"{self.base}/status", timeout=2).json()["value"]["ready"])
        except (requests.RequestException, ValueError, KeyError):
            return False

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, self.base + path, json=body, timeout=60)
        value = response.json().get("value")
        if response.status_code != 200:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    def find(self, css: str) -> str:
        found = self._call(
            "POST", f"{self.session}/element", {"using": "css selector", "value": css}
        )
        return str(found[ELEMENT])

    def type(self, css: str, text: str) -> None:
        self._on_element(css, "POST", "value", {"text": text})

    def click(self, css: str) -> None:
        self._on_element(css, "POST", "click", {})

    def text(self, css: str) -> str:
        return str(self._on_element(css, "GET", "text", None))

    def _on_element(self, css: str, method: str, command: str, body: dict[str, Any] | None) -> Any:
        """``command`` on the element ``css`` names, found again when the page replaced it
        between the lookup and the command (the console re-renders its job list as it polls)."""
        for _ in range(STALE_RETRIES - 1):
            try:
                return self._call(
                    method, f"{self.session}/element/{self.find(css)}/{command}", body
                )
            except WebDriverError as exc:
                if "stale element reference" not in str(exc):
                    raise
        return self._call(method, f"{self.session}/element/{self.find(css)}/{command}", body)

    def script(self, source: str, *args: Any) -> Any:
        """Run ``source`` (a function body; ``arguments`` holds ``args``) and return its value."""
        return self._call(
            "POST", f"{self.session}/execute/sync", {"script": source, "args": list(args)}
        )

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))
        return path

    def close(self) -> None:
        try:
            if hasattr(self, "session"):
                self._call("DELETE", self.session)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)
