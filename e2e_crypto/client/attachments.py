"""Attachments: encrypt while uploading, download while decrypting, never all in memory.

``e2e_crypto.attachments`` is synchronous (libsodium secretstream over iterables);
the network is asynchronous. The bridge runs the crypto in a worker thread and lets
it pull its input from the event loop one piece at a time
(``asyncio.run_coroutine_threadsafe``), so a 1 GB scan costs a few 64 KiB chunks of
memory and the event loop never blocks on encryption or disk.

A download is written to ``<dest>.part`` and renamed only after the whole file
verified (FINAL tag, size, BLAKE2b digest of the ciphertext): an app can never open
a truncated or tampered file by mistake. On any failure the partial file is deleted
and ``AttachmentCorrupted`` raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from e2e_crypto.attachments import CHUNK_BYTES, AttachmentRef, ciphertext_size, decrypt_stream
from e2e_crypto.attachments import encrypt_stream as _encrypt_stream
from e2e_crypto.client.api import Api
from e2e_crypto.client.errors import AttachmentCorrupted
from e2e_crypto.client.payloads import Attachment
from e2e_crypto.errors import DecryptionFailed

__all__ = ["download", "upload"]

T = TypeVar("T")
Source = Path | str | AsyncIterable[bytes]


def _pull(
    loop: asyncio.AbstractEventLoop, step: Callable[[], Coroutine[Any, Any, T | None]]
) -> Iterator[T]:
    """A synchronous iterator (for a worker thread) over an async source on ``loop``."""
    while True:
        item = asyncio.run_coroutine_threadsafe(step(), loop).result()
        if item is None:
            return
        yield item


def _file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:  # runs in the worker thread, never on the loop
        while piece := f.read(CHUNK_BYTES):
            yield piece


async def upload(api: Api, thread_id: str, source: Source, name: str, mime: str) -> Attachment:
    """Encrypt ``source`` (a path or async byte chunks) and upload the ciphertext.

    Returns the ``Attachment`` payload to send in the thread (it holds the key).
    """
    loop = asyncio.get_running_loop()
    if isinstance(source, str | Path):
        path = Path(source)
        plaintext: Iterator[bytes] = _file_pieces(path)
        size: int | None = ciphertext_size((await asyncio.to_thread(path.stat)).st_size)
    else:
        chunks = aiter(source)

        async def next_chunk() -> bytes | None:
            return await anext(chunks, None)

        plaintext = _pull(loop, next_chunk)
        size = None
    stream = _encrypt_stream(plaintext)

    async def ciphertext() -> AsyncIterator[bytes]:
        while (piece := await asyncio.to_thread(next, stream, None)) is not None:
            yield piece

    answer = await api.upload_attachment(thread_id, ciphertext(), size)
    return Attachment.of(str(answer["attachment_id"]), name, mime, stream.ref)


def _write_verified(pieces: Iterator[bytes], ref: AttachmentRef, part: Path) -> int:
    written = 0
    with part.open("wb") as out:
        for chunk in decrypt_stream(pieces, ref):
            out.write(chunk)
            written += len(chunk)
    return written


async def download(api: Api, attachment: Attachment, dest: Path | str) -> Path:
    """Fetch, verify and decrypt ``attachment`` into ``dest``; returns ``dest``."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    loop = asyncio.get_running_loop()
    try:
        async with api.download_attachment(attachment.attachment_id) as content:

            async def next_piece() -> bytes | None:
                return (await content.readany()) or None

            await asyncio.to_thread(_write_verified, _pull(loop, next_piece), attachment.ref, part)
        await asyncio.to_thread(os.replace, part, dest)
    except DecryptionFailed:
        await asyncio.to_thread(_unlink, part)
        raise AttachmentCorrupted("the attachment failed its integrity check") from None
    except BaseException:
        await asyncio.shield(asyncio.to_thread(_unlink, part))
        raise
    return dest


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
