"""The real ``informly`` binary, started for a test: ``informly serve`` on a
free port over a fresh SQLite database and keys directory, plus the CLI and
the HTTP API on the same home. The binary is ``$INFORMLY_BIN``, else the
debug build under ``$CARGO_TARGET_DIR`` or the repository's ``target/``."""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional

import httpx

ROOT = Path(__file__).resolve().parents[3]


def binary() -> Optional[Path]:
    candidates = [os.environ.get("INFORMLY_BIN")]
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "informly"))
    candidates.append(str(ROOT / "target" / "debug" / "informly"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class Service:
    """A running ``informly serve``; :meth:`stop` ends it."""

    def __init__(self, *serve_args: str) -> None:
        found = binary()
        if found is None:
            raise RuntimeError("no informly binary: build it (cargo build) or set INFORMLY_BIN")
        self.bin = found
        self.home = tempfile.TemporaryDirectory(prefix="informly-py-")
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "INFORMLY_DATABASE_URL": f"sqlite://{self.home.name}/informly.db",
            "INFORMLY_KEYS_DIR": f"{self.home.name}/keys",
        }
        os.mkdir(f"{self.home.name}/keys", 0o700)
        self.log: list[str] = []
        self.process: Optional[subprocess.Popen[str]] = None
        self.base = ""
        self.start(*serve_args)
        self.admin = self.cli("admin-token")
        self.http = httpx.Client(base_url=self.base, timeout=10)

    def start(self, *serve_args: str) -> None:
        self.process = subprocess.Popen(
            [str(self.bin), "serve", "--listen", "127.0.0.1:0", *serve_args],
            env=self.env,
            cwd=self.home.name,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        addresses: queue.Queue[str] = queue.Queue()
        stream = self.process.stderr
        assert stream is not None

        def read() -> None:
            for line in stream:
                self.log.append(line)
                if "address=" in line:
                    addresses.put(line.split("address=", 1)[1].strip())
            addresses.put("")  # the process has exited

        threading.Thread(target=read, daemon=True).start()
        try:
            address = addresses.get(timeout=30)
        except queue.Empty:
            address = ""
        if not address:
            self.stop()
            raise RuntimeError("informly serve did not start:\n" + "".join(self.log))
        self.base = "http://" + address

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        self.http.close()
        self.home.cleanup()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin), *args], env=self.env, cwd=self.home.name, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"informly {args[0]} failed: {done.stderr}")
        return done.stdout.strip()

    def api(self, method: str, path: str, body: Optional[dict[str, Any]] = None, status: int = 200) -> Any:
        response = self.http.request(method, path, json=body, headers={"Authorization": f"Bearer {self.admin}"})
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def create_app(self, name: str) -> str:
        return self.api("POST", "/v1/apps", {"name": name}, status=201)["id"]

    def issue(self, app: str, scopes: list[str], fmt: str = "paseto") -> dict[str, Any]:
        body = {"scopes": scopes, "expires_in": "1h", "format": fmt}
        return self.api("POST", f"/v1/apps/{app}/tokens", body, status=201)
