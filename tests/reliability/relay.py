"""A TCP relay the tests can cut: while closed, its port refuses connections and every connection
through it is dropped; reopened, it listens on the same port again. Put between a worker and the
sandbox it makes "connection refused"; between a worker and PostgreSQL, an unreachable database.
It counts the reads it relays back from the target (`replies`): a client that awaits an answer per
command causes one each, one that pipelines a few."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpRelay:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.replies = 0  # reads relayed from the target to a client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def open(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)  # the accept loop notices close() within this
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), name="tcp-relay", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening (new connections are refused) and drop every open connection."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            live, self._sockets = self._sockets, set()
        for sock in live:
            _shut(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, source is upstream), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replying: bool) -> None:
        try:
            while data := source.recv(65_536):
                if replying:
                    with self._lock:
                        self.replies += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.difference_update((source, sink))
            _shut(source)
            _shut(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
