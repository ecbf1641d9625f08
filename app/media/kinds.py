"""What a file is, from its first bytes (never its name), and what Meta takes of each kind.

Meta's limits (CLOUD_API.md): image 5 MB (jpeg, png); video 16 MB (mp4, 3gpp); audio 16 MB
(aac, amr, mpeg, mp4, ogg/opus); document 100 MB (pdf, office, plain text); sticker webp,
100 KB static and 500 KB animated.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import IO

from app.models.media import MediaKind

KB = 1024
MB = 1024 * 1024
# Bytes read to decide: enough for every signature below and for text to show itself.
SNIFF_BYTES = 8 * KB

OFFICE_TYPES = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# An old binary Office file (OLE2) says which program only inside; its name breaks the tie.
_OLE2_BY_EXTENSION = {
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
}
MSWORD = "application/msword"


@dataclass(frozen=True)
class Limit:
    kind: MediaKind
    max_bytes: int


# What Meta takes, by MIME type.
ALLOWED: dict[str, Limit] = {
    "image/jpeg": Limit(MediaKind.IMAGE, 5 * MB),
    "image/png": Limit(MediaKind.IMAGE, 5 * MB),
    "video/mp4": Limit(MediaKind.VIDEO, 16 * MB),
    "video/3gpp": Limit(MediaKind.VIDEO, 16 * MB),
    "audio/aac": Limit(MediaKind.AUDIO, 16 * MB),
    "audio/amr": Limit(MediaKind.AUDIO, 16 * MB),
    "audio/mpeg": Limit(MediaKind.AUDIO, 16 * MB),
    "audio/mp4": Limit(MediaKind.AUDIO, 16 * MB),
    "audio/ogg": Limit(MediaKind.AUDIO, 16 * MB),
    "application/pdf": Limit(MediaKind.DOCUMENT, 100 * MB),
    MSWORD: Limit(MediaKind.DOCUMENT, 100 * MB),
    "application/vnd.ms-excel": Limit(MediaKind.DOCUMENT, 100 * MB),
    "application/vnd.ms-powerpoint": Limit(MediaKind.DOCUMENT, 100 * MB),
    **{mime: Limit(MediaKind.DOCUMENT, 100 * MB) for mime in OFFICE_TYPES.values()},
    "text/plain": Limit(MediaKind.DOCUMENT, 100 * MB),
    "image/webp": Limit(MediaKind.STICKER, 100 * KB),
}
ANIMATED_STICKER_BYTES = 500 * KB
LARGEST = max(limit.max_bytes for limit in ALLOWED.values())


def limit_for(mime_type: str, *, animated: bool = False) -> Limit | None:
    limit = ALLOWED.get(mime_type)
    if limit is not None and animated:
        return Limit(limit.kind, ANIMATED_STICKER_BYTES)
    return limit


@dataclass(frozen=True)
class Sniffed:
    mime_type: str | None  # None: nothing Parley recognizes
    animated: bool = False


def sniff(head: bytes, file: IO[bytes] | None = None, file_name: str | None = None) -> Sniffed:
    """The type of a file from its first bytes ``head``; ``file`` (seekable) lets a ZIP show
    whether it is a Word, Excel or PowerPoint file."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        animated = head[12:16] == b"VP8X" and bool(head[20] & 0x02) if len(head) > 20 else False
        return Sniffed("image/webp", animated=animated)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith((b"3gp", b"3g2")):
            return Sniffed("video/3gpp")
        if brand in (b"M4A ", b"M4B "):
            return Sniffed("audio/mp4")
        return Sniffed("video/mp4")
    if head.startswith(b"OggS"):
        return Sniffed("audio/ogg")
    if head.startswith(b"#!AMR"):
        return Sniffed("audio/amr")
    if head.startswith(b"ID3"):
        return Sniffed("audio/mpeg")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0:
        # A frame sync: layer bits 00 are AAC in ADTS, anything else MPEG audio (MP3).
        return Sniffed("audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf")
    if head.startswith(b"PK\x03\x04") and file is not None:
        return Sniffed(_office_type(file))
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        extension = (file_name or "").lower().rpartition(".")[2]
        return Sniffed(_OLE2_BY_EXTENSION.get(f".{extension}", MSWORD))
    if _is_text(head):
        return Sniffed("text/plain")
    return Sniffed(None)


def _office_type(file: IO[bytes]) -> str | None:
    position = file.tell()
    try:
        file.seek(0)
        names = zipfile.ZipFile(file).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        file.seek(position)
    for prefix, mime_type in OFFICE_TYPES.items():
        if any(name.startswith(prefix) for name in names):
            return mime_type
    return None


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def extension_of(mime_type: str) -> str:
    return {
        "image/jpeg": "jpg",
        "image/png": "png",
        "image/webp": "webp",
        "video/mp4": "mp4",
        "video/3gpp": "3gp",
        "audio/aac": "aac",
        "audio/amr": "amr",
        "audio/mpeg": "mp3",
        "audio/mp4": "m4a",
        "audio/ogg": "ogg",
        "application/pdf": "pdf",
        "text/plain": "txt",
    }.get(mime_type, "bin")
