"""A bare Redis connection for pre-packed RESP: send one buffer, get the replies (hiredis) or raw bytes.

redis-py parses every reply through several Python layers (~9 µs a reply): a materialize batch of thousands
of HSET replies, or an online read of ~500 HMGET replies, spends longer there than Redis spends executing the
commands. Both paths already build their commands as one RESP buffer, so they only need a socket, a reader,
and the AUTH/SELECT that redis-py would have sent.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from pipelines.materialize.redis_codec import resp_bulk

if TYPE_CHECKING:
    import redis

RECV_BYTES = 1 << 20
RAW_BUFFER_BYTES = 1 << 18  # exchange_raw's reply buffer; grows when a reply is larger


def _reply_error() -> type[Exception]:
    """Error replies come back as redis-py's ResponseError, so callers catch what they caught before."""
    import redis

    return redis.ResponseError


class RespConnection:
    """One TCP connection to Redis; not thread-safe (use one per thread)."""

    def __init__(
        self, host: str, port: int, *, db: int = 0, password: str | None = None, username: str | None = None
    ) -> None:
        self.host, self.port, self.db = host, int(port), int(db or 0)
        self.password, self.username = password, username
        self.sock: socket.socket | None = None
        self._raw = bytearray(RAW_BUFFER_BYTES)

    @classmethod
    def from_redis(cls, client: redis.Redis) -> RespConnection:
        """Same server, database and credentials as a redis-py client."""
        kw = client.connection_pool.connection_kwargs
        if "path" in kw:
            raise ValueError("unix-socket Redis connections are not supported here; use host:port")
        return cls(
            kw.get("host", "localhost"),
            kw.get("port", 6379),
            db=kw.get("db", 0),
            password=kw.get("password"),
            username=kw.get("username"),
        )

    @classmethod
    def from_feast(cls, connection_string: str) -> RespConnection:
        """From Feast's `host:port,db=0,password=…` online-store connection string."""
        from feast.infra.online_stores.redis import RedisOnlineStore

        nodes, kwargs = RedisOnlineStore._parse_connection_string(connection_string)
        return cls(
            nodes[0]["host"],
            nodes[0]["port"],
            db=kwargs.get("db", 0),
            password=kwargs.get("password"),
            username=kwargs.get("username"),
        )

    def _connect(self) -> None:
        import hiredis

        sock = socket.create_connection((self.host, self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.reader = sock, hiredis.Reader(replyError=_reply_error())
        setup, n = b"", 0
        if self.password:
            auth = [str(self.username).encode()] if self.username else []
            args = [b"AUTH", *auth, str(self.password).encode()]
            setup += b"*%d\r\n" % len(args) + b"".join(resp_bulk(a) for a in args)
            n += 1
        if self.db:
            setup += b"*2\r\n$6\r\nSELECT\r\n" + resp_bulk(str(self.db).encode())
            n += 1
        if n:
            self._exchange(setup, n)

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(RECV_BYTES)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        return chunk

    def _exchange(self, payload: bytes, n_replies: int) -> list[Any]:
        assert self.sock is not None
        self.sock.sendall(payload)
        return self._replies(n_replies)

    def _replies(self, n_replies: int) -> list[Any]:
        """Read n replies; raise the first error reply once all n are in (the connection stays usable)."""
        reader, error = self.reader, None
        replies: list[Any] = []
        while len(replies) < n_replies:
            reply = reader.gets()
            if reply is False:
                reader.feed(self._recv())
                continue
            if isinstance(reply, Exception):
                error = error or reply
            replies.append(reply)
        if error is not None:
            raise error
        return replies

    def exchange(self, payload: bytes, n_replies: int) -> list[Any]:
        """Send pre-packed commands, return their n replies (the first error reply is raised)."""
        if self.sock is None:
            self._connect()
        try:
            return self._exchange(payload, n_replies)
        except _reply_error():
            raise
        except BaseException:
            self.close()
            raise

    def exchange_raw(self, payload: bytes | memoryview, end_marker: bytes) -> memoryview:
        """Send commands whose last reply is exactly `end_marker`; return every reply byte up to and with it.

        For callers that parse the replies themselves (numpy over the raw buffer). The marker must be the
        reply of a command with a unique argument (ECHO of a per-request token), so the buffer ending with it
        means every earlier reply has arrived; a caller whose own parse of the buffer fails must not trust it.
        The view is of a buffer this connection reuses: valid until its next exchange.
        """
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        try:
            self.sock.sendall(payload)
            buf, n, k = self._raw, 0, len(end_marker)
            while n < k or buf[n - k : n] != end_marker:
                if n == len(buf):  # a new, larger buffer (a view of the old one may still be alive)
                    grown = bytearray(2 * len(buf))
                    grown[:n] = buf[:n]
                    buf = self._raw = grown
                got = self.sock.recv_into(memoryview(buf)[n:])
                if not got:
                    raise ConnectionError("Redis closed the connection")
                n += got
            return memoryview(buf)[:n]
        except BaseException:
            self.close()
            raise

    def replies_of_raw(self, raw: bytes | memoryview, n_replies: int) -> list[Any]:
        """The n replies that `raw` (from exchange_raw) starts, parsed by hiredis; reads on if it is short.

        The fallback for a raw buffer its caller could not parse (an error reply, an unexpected value)."""
        try:
            self.reader.feed(bytes(raw))
            return self._replies(n_replies)
        except _reply_error():
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
