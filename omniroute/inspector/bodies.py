"""Captured bodies at rest: compact, masked on first read.

A ``StoredBody`` starts as a reference to the bytes mitmproxy already holds (no copy on the
request path). Masking waits for the first read (API, WebSocket, HAR, a recording session), which
keeps only the masked bytes from then on. Bodies of ``PACK_MIN`` bytes or more are zstd-compressed
(level 1) by one background thread;
zstd releases the GIL, so packing runs beside the event loop instead of on it. A read unpacks
again and nothing keeps the decoded text.

The state is one tuple, swapped under a lock, so the packing thread and readers (the event loop,
HAR export in a worker thread) never see half an update.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import NamedTuple

import zstandard

from omniroute.inspector.masking import Masker

PACK_MIN = 4096  # smaller bodies stay as they are: compressing them saves little
PACK_LEVEL = 1

log = logging.getLogger(__name__)
_swap = threading.Lock()
_local = threading.local()  # zstd contexts are not thread-safe: one per thread


class _State(NamedTuple):
    data: bytes
    packed: bool  # zstd frame (with its content size) of the capped bytes
    masked: bool


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_local, "compressor"):
        _local.compressor = zstandard.ZstdCompressor(level=PACK_LEVEL)
    return _local.compressor  # type: ignore[no-any-return]


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor  # type: ignore[no-any-return]


class StoredBody:
    """One captured body, capped at ``cap`` bytes (one more is kept, so a cut is detectable)."""

    __slots__ = ("_queued", "_state", "cap", "masker")

    def __init__(self, raw: bytes, cap: int, masker: Masker) -> None:
        self._state = _State(raw, False, False)
        self._queued: _State | None = None  # the state a packing job was submitted for
        self.cap = cap
        self.masker = masker

    @property
    def is_masked(self) -> bool:
        return self._state.masked

    @property
    def held(self) -> int:
        """Bytes kept for this body right now (packed or not)."""
        return len(self._state.data)

    def unmasked(self) -> bytes | None:
        """The body as received (only its first ``cap + 1`` bytes once packed), until the first
        masked read drops it."""
        state = self._state
        return None if state.masked else _plain(state)

    def masked(self) -> bytes:
        """The capped bytes with secrets masked (masked once, on the first call)."""
        state = self._state
        plain = _plain(state)
        if state.masked:
            return plain
        # Mask before the cut (callers cap again): a cut must not leave an unmaskable fragment.
        masked = self.masker.mask_bytes(plain[: self.cap + 1])
        if self._replace(state, _State(masked, False, True)):
            self.pack()
        return masked

    def pack(self) -> None:
        """Compress in the background if large enough."""
        pack_later([self])

    def _claim(self) -> _State | None:
        """The state to pack, if it needs packing and no job has it yet."""
        with _swap:
            state = self._state
            if state.packed or len(state.data) < PACK_MIN or self._queued is state:
                return None
            self._queued = state
            return state

    def _pack(self, state: _State) -> None:
        packed = _compressor().compress(memoryview(state.data)[: self.cap + 1])
        # compress() returns a bytes object sized for the worst case: keep an exact-size copy.
        self._replace(state, _State(memoryview(packed).tobytes(), True, state.masked))
        with _swap:
            if self._queued is state:
                self._queued = None  # it holds the unpacked bytes

    def _replace(self, old: _State, new: _State) -> bool:
        """Swap in ``new`` unless another thread changed the state since ``old`` was read."""
        with _swap:
            if self._state is not old:
                return False
            self._state = new
            return True


def pack_later(bodies: list[StoredBody]) -> None:
    """Compress these bodies in one background job; inline outside an event loop (tools,
    unit tests: no loop to keep free)."""
    jobs = [(body, state) for body in bodies if (state := body._claim()) is not None]
    if not jobs:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _pack_all(jobs)
        return
    _packer.submit(jobs)


def _pack_all(jobs: list[tuple[StoredBody, _State]]) -> None:
    for body, state in jobs:
        body._pack(state)


class _Packer:
    """One daemon thread fed by a ``SimpleQueue``: a put is all the event loop does."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[list[tuple[StoredBody, _State]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, jobs: list[tuple[StoredBody, _State]]) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inspector-pack", daemon=True)
                    self._thread.start()
        self._jobs.put(jobs)

    def _run(self) -> None:
        while True:
            jobs = self._jobs.get()
            try:
                _pack_all(jobs)
            except Exception:  # a body left unpacked is only bigger; keep the thread alive
                log.exception("packing captured bodies failed")


_packer = _Packer()


def _plain(state: _State) -> bytes:
    return _decompressor().decompress(state.data) if state.packed else state.data  # type: ignore[no-any-return]

