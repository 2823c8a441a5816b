"""A real HTTP server on the loopback interface, in a thread, that records what it is sent.

It answers each request with the next status of `statuses` (the last one repeats). With
`hold_first`, the first request is held open until `release()`, so a test can act
(kill a worker) while a sender waits on it.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, statuses: list[int], *, hold_first: bool = False) -> None:
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self._released = threading.Event()
        if not hold_first:
            self._released.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def release(self) -> None:
        self._released.set()

    def _respond(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            index = len(self.received) - 1
        self.arrived.set()
        if index == 0:
            self._released.wait(HOLD_TIMEOUT_SECONDS)
        return self.statuses[min(index, len(self.statuses) - 1)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._respond(Received(self.path, dict(self.headers.items()), body))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"answered {status}".encode())
                except OSError:
                    pass  # the sender is gone (a killed worker): nothing to answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator["Receiver"]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()
