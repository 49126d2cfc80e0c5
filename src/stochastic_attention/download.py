"""Atomic, verified downloads with the standard library.

``download`` fetches an ``http://``, ``https://`` or ``file://`` URL into a temporary file in the
destination folder, checks its size and sha256 where they are given, and only then renames it onto
the destination. On any failure the temporary file is removed and a :class:`DataSourceError` says
which URL failed, what went wrong and how to fix it; the destination is never left half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import UserError

__all__ = ["DEFAULT_DEADLINE", "DataSourceError", "download", "sha256_of"]

_CHUNK = 1 << 20
DEFAULT_DEADLINE = 1800.0
"""Seconds one download attempt may take in all (30 min: the 10 MB MNIST images at 6 KB/s)."""
log = logging.getLogger(__name__)


class DataSourceError(UserError, RuntimeError):
    """A data source is unreachable, incomplete or does not match its expected checksum.

    ``transient`` is true for failures that a later attempt can cure (unreachable host,
    timeout, a transfer cut short, HTTP 408/429/5xx); :func:`download` retries only those.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


_TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


def sha256_of(path: Path | str) -> str:
    """Return the lowercase hex sha256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open_url(url: str, timeout: float):
    """Open ``url`` for reading, translating every failure into a DataSourceError."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DataSourceError(
            f"download of {url} failed: HTTP {exc.code} {exc.reason}. "
            "Check that the URL (base URL and file name) is correct and the file exists there.",
            transient=exc.code in _TRANSIENT_HTTP,
        ) from exc
    except urllib.error.URLError as exc:
        # file:// failures (a missing file) are not cured by waiting; network ones may be
        raise DataSourceError(
            f"download of {url} failed: source unreachable ({exc.reason}). "
            "Check the network connection and the host name, or use an offline source.",
            transient=not url.lower().startswith("file:"),
        ) from exc
    except TimeoutError as exc:
        raise DataSourceError(
            f"download of {url} failed: no answer within {timeout} s. "
            "Retry later, raise the timeout, or use another mirror or an offline source.",
            transient=True,
        ) from exc
    except ValueError as exc:  # unknown URL type, malformed URL
        raise DataSourceError(
            f"download of {url} failed: invalid URL ({exc}). "
            "Use an http://, https:// or file:// URL."
        ) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # RemoteDisconnected (closed without an answer), BadStatusLine, a reset connection:
        # the server or the path to it misbehaved; a later attempt may get an answer
        reason = str(exc) or type(exc).__name__
        raise DataSourceError(
            f"download of {url} failed: the server closed the connection without a valid "
            f"answer ({reason}). Retry later, or use another mirror or an offline source.",
            transient=True,
        ) from exc


def _stream_to(
    response, url: str, fh, timeout: float, deadline: float | None = None
) -> tuple[int, str]:
    """Copy ``response`` into ``fh``; return (bytes written, sha256 hex digest).

    ``timeout`` bounds each read (a stalled transfer); ``deadline`` (a ``time.monotonic``
    value) bounds the whole transfer, so a server that trickles a byte now and then, each
    within ``timeout``, is cut off too. Reads return what has arrived (``read1``), so the
    deadline is checked at least once per ``timeout``.
    """
    digest = hashlib.sha256()
    n_bytes = 0
    read = getattr(response, "read1", response.read)
    try:
        while chunk := read(_CHUNK):
            fh.write(chunk)
            digest.update(chunk)
            n_bytes += len(chunk)
            if deadline is not None and time.monotonic() > deadline:
                raise DataSourceError(
                    f"download of {url} failed: only {n_bytes} bytes arrived before the "
                    "overall deadline of the transfer (the server is far too slow). Retry "
                    "later, raise the deadline, or use another mirror or an offline source.",
                    transient=True,
                )
    except TimeoutError as exc:
        raise DataSourceError(
            f"download of {url} failed: transfer stalled for {timeout} s after {n_bytes} bytes. "
            "Retry, or use another mirror or an offline source.",
            transient=True,
        ) from exc
    except (OSError, http.client.HTTPException) as exc:  # connection reset, incomplete read
        raise DataSourceError(
            f"download of {url} failed after {n_bytes} bytes: {exc}. "
            "Retry, or use another mirror or an offline source.",
            transient=True,
        ) from exc
    return n_bytes, digest.hexdigest()


def _verify(
    url: str,
    n_bytes: int,
    got_sha256: str,
    *,
    announced: int | None,
    size: int | None,
    sha256: str | None,
) -> None:
    """Raise DataSourceError if the received bytes do not match what was announced or expected."""
    if announced is not None and n_bytes != announced:
        raise DataSourceError(
            f"download of {url} is incomplete: the server announced {announced} bytes, "
            f"received {n_bytes}. Retry, or use another mirror.",
            transient=True,
        )
    if size is not None and n_bytes != size:
        raise DataSourceError(
            f"size mismatch for {url}: expected {size} bytes, got {n_bytes}. "
            "The file at the source differs from the one configured; check the URL, "
            "or update the expected size if the new file is trusted."
        )
    if sha256 is not None and got_sha256 != sha256.strip().lower():
        raise DataSourceError(
            f"checksum mismatch for {url}: expected sha256 {sha256.strip().lower()}, "
            f"got {got_sha256} ({n_bytes} bytes). The file was corrupted in transit or changed "
            "at the source; retry or pick another mirror, or update the sha256 in the config "
            "if the new file is trusted."
        )


def download(
    url: str,
    dest: Path | str,
    *,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 60,
    deadline: float | None = DEFAULT_DEADLINE,
    attempts: int = 3,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest`` as a Path.

    The bytes go to a temporary file in ``dest``'s folder (created if needed); the size (when
    ``size`` is given, and the Content-Length the server announced) and the sha256 (when
    ``sha256`` is given) are checked before ``os.replace`` moves it onto ``dest``. Raises
    :class:`DataSourceError` on HTTP errors, unreachable hosts, timeouts, truncated transfers
    and size or checksum mismatches; no file is left behind in that case. ``timeout`` bounds
    the wait for each answer and each read; ``deadline`` (seconds, ``None`` for none) bounds
    one attempt's whole transfer, so a server that trickles bytes cannot hold a job forever.

    Only transient failures (see :class:`DataSourceError`) are retried, up to ``attempts``
    tries in all, waiting ``backoff``, then 2·``backoff``, … seconds between them; a wrong
    URL (HTTP 404), a missing ``file://`` file or a checksum mismatch fails at once. This is
    the pipeline's only retry of a fetch: the workflow's fetch rule has ``retries: 0``.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _download_once(
                url, dest, sha256=sha256, size=size, timeout=timeout, deadline=deadline
            )
        except DataSourceError as error:
            if not error.transient or attempt == attempts:
                raise
            wait = backoff * 2 ** (attempt - 1)
            log.warning("%s; attempt %d of %d in %.0f s", error, attempt + 1, attempts, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _download_once(
    url: str,
    dest: Path | str,
    *,
    sha256: str | None,
    size: int | None,
    timeout: float,
    deadline: float | None = DEFAULT_DEADLINE,
) -> Path:
    """One attempt of :func:`download`."""
    end = None if deadline is None else time.monotonic() + deadline
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            with _open_url(url, timeout) as response:
                length = response.headers.get("Content-Length") if response.headers else None
                announced = int(length) if length and length.isdigit() else None
                n_bytes, got = _stream_to(response, url, fh, timeout, end)
            fh.flush()
            os.fsync(fh.fileno())
        _verify(url, n_bytes, got, announced=announced, size=size, sha256=sha256)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return dest
