"""A TCP proxy on a local port that a test can cut and restore: an outage of the server behind it
(PostgreSQL, Redis) for the processes that connect through it, without stopping the shared server.

Cut, it closes every connection it carries (each side sees the peer go away) and resets new ones
at once, as a server that is down or failing over would; restored, it forwards again.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, name=f"tcp-proxy-{self.port}", daemon=True).start()

    @classmethod
    def in_front_of(cls, url: str) -> tuple[TcpProxy, str]:
        """A proxy in front of the server a database or Redis URL names, and the URL through it."""
        parts = urlsplit(url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or {"redis": 6379}.get(parts.scheme, 5432))
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return proxy, urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}"))

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``restore``."""
        with self._lock:
            self._cut = True
            carried, self._open = self._open, set()
        for sock in carried:  # wakes both pumps of each pair; the last to leave closes the sockets
            _shut(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _shut(self._listener)  # wakes the accepting thread, which closes it

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                break
            with self._lock:
                if self._cut:
                    _reset(client)
                    continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._cut:  # cut while we connected
                    _reset(client)
                    _reset(server)
                    continue
                self._open.update((client, server))
            pumps_left = [2]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, pumps_left), daemon=True).start()
        self._listener.close()

    def _pump(self, source: socket.socket, sink: socket.socket, pumps_left: list[int]) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(source)
            _shut(sink)
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
                pumps_left[0] -= 1
                last = pumps_left[0] == 0
            if last:  # closed only when neither pump reads them any more (a closed fd number is reused)
                source.close()
                sink.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with a reset (linger 0), so the peer learns at once that the connection is refused."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
