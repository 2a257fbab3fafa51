"""Evidence files of complaint cases: what a citizen attaches to a case (a document, a photo, a
voice note, a short video) and what staff attach to an answer.

The type of a file is read from its content's magic bytes (the `filetype` package), never from the
name or the content type the client sent: a PNG named "report.pdf" is a PNG, and an executable named
"photo.jpg" is refused. Only the types of ALLOWED_TYPES are kept; text formats a browser would run
(HTML, SVG) have no magic bytes and so are refused too.

The bytes live in a FileStore; LocalDiskStore keeps them under a folder, and store_from_url picks
the store from a URL (file:///path today; another scheme, such as s3://, plugs in there).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import filetype

from common.config import get_settings
from common.errors import FieldError, InvalidRequest, NotFound
from common.text import persian_digits

MAX_FILE_BYTES = 10 * 1024 * 1024
# A case's quota, for the reporter's evidence and for staff's attachments each (evidence.py): an
# anonymous sender cannot fill the store, nor leave no room for the answer's files.
MAX_FILES_PER_CASE = 10
MAX_BYTES_PER_CASE = 40 * 1024 * 1024

# MIME type, exactly as filetype reports it -> what a person is shown. filetype reports M4A (an
# MPEG-4 file of brand "M4A ") as audio/mp4, and other MPEG-4 files (brands isom, mp41, mp42, which
# phones also use for voice recordings) as video/mp4.
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "سند PDF",
    "image/jpeg": "تصویر JPEG",
    "image/png": "تصویر PNG",
    "image/webp": "تصویر WebP",
    "audio/mpeg": "صدای MP3",
    "audio/ogg": "صدای OGG",
    "audio/mp4": "صدای M4A",
    "video/mp4": "ویدئوی MP4",
}

# The extension a file of each allowed type is given when its own name is unusable.
EXTENSIONS: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
}

# What filetype reports under another name for a type that is allowed: an animated PNG is a PNG.
_SAME_TYPE = {"image/apng": "image/png"}

MAX_FILENAME_CHARS = 120

_MEGABYTES = MAX_FILE_BYTES // (1024 * 1024)
_TOO_LARGE_FA = f"حجم فایل نباید بیشتر از {persian_digits(_MEGABYTES)} مگابایت باشد."
_EMPTY_FA = "فایل خالی است."
_TYPE_NOT_ALLOWED_FA = ("این نوع فایل پذیرفته نیست؛ "
                        "فقط PDF، تصویر (JPEG، PNG، WebP)، صدا (MP3، OGG، M4A) یا ویدئوی MP4 پذیرفته می‌شود.")


@dataclass(frozen=True)
class FileFacts:
    content_type: str  # as read from the content, one of ALLOWED_TYPES
    size: int  # bytes
    sha256: str  # hex


def inspect(content: bytes, filename: str | None) -> FileFacts:
    """The facts of an uploaded file, read from its bytes alone; InvalidRequest on field "file" when
    it is empty, larger than MAX_FILE_BYTES, or of a type that is not allowed. The filename only
    helps the English detail of an error."""
    shown = repr(safe_filename(filename, None)) if filename else "the file"
    size = len(content)
    if size == 0:
        raise _invalid("empty", _EMPTY_FA, f"{shown} is empty")
    if size > MAX_FILE_BYTES:
        raise _invalid("too_large", _TOO_LARGE_FA, f"{shown} has {size} bytes; at most {MAX_FILE_BYTES} are accepted")
    content_type = detect_type(content)
    if content_type not in ALLOWED_TYPES:
        found = content_type or "an unrecognised type"
        raise _invalid("type_not_allowed", _TYPE_NOT_ALLOWED_FA,
                       f"{shown} is {found} by its content; allowed: {', '.join(ALLOWED_TYPES)}")
    return facts_of(content, content_type)


def facts_of(content: bytes, content_type: str) -> FileFacts:
    """The facts of bytes whose type is already known (an image saved again without its metadata)."""
    return FileFacts(content_type=content_type, size=len(content), sha256=hashlib.sha256(content).hexdigest())


def detect_type(content: bytes) -> str | None:
    """The MIME type that the content's magic bytes show, or None when filetype knows none."""
    kind = filetype.guess(content)
    if kind is None:
        return None
    return _SAME_TYPE.get(kind.mime, kind.mime)


def _invalid(code: str, message: str, detail: str) -> InvalidRequest:
    return InvalidRequest([FieldError("file", code, message, detail)])


# Characters a name is never shown with: control characters, unpaired surrogates, and the bidi
# embeddings, overrides and isolates that can make "gpj.exe" read as "exe.jpg". The zero-width
# non-joiner and joiner stay: Persian words need them.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def safe_filename(name: str | None, content_type: str | None) -> str:
    """A name to show and to offer on download: the last path component of what the client sent
    (either slash), without control characters, at most MAX_FILENAME_CHARS characters (the
    extension kept when it is cut); "file.<extension of content_type>" when nothing usable is left."""
    cleaned = ""
    if name:
        last = re.split(r"[/\\]", unicodedata.normalize("NFC", str(name)))[-1]
        spaced = " ".join(last.split())  # tabs and line breaks become one space
        kept = "".join(c for c in spaced if unicodedata.category(c) not in ("Cc", "Cs") and c not in _BIDI_CONTROLS)
        cleaned = " ".join(kept.split()).strip(". ")  # no hidden names, no "." or ".."
    if not cleaned:
        extension = EXTENSIONS.get(_SAME_TYPE.get(content_type or "", content_type or ""))
        return f"file.{extension}" if extension else "file"
    if len(cleaned) > MAX_FILENAME_CHARS:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and stem and 0 < len(extension) <= 10:
            cleaned = stem[:MAX_FILENAME_CHARS - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            cleaned = cleaned[:MAX_FILENAME_CHARS].rstrip(". ")
    return cleaned


# Stores


@runtime_checkable
class FileStore(Protocol):
    """Where the bytes of files are kept, by key ("cases/<case uuid>/<file uuid>")."""

    def put(self, key: str, content: bytes) -> None:
        """Keep content under key, replacing what was there; durable when it returns."""

    def get(self, key: str) -> bytes:
        """The content under key; NotFound when there is none."""

    def delete(self, key: str) -> None:
        """Forget what is under key; nothing happens when there is nothing."""


_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_key(key: str) -> str:
    """A key is a relative path of plain names (letters, digits, ".", "_", "-", not starting with a
    dot); anything else, such as ".." or an absolute path, is a ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("a file key must be a non-empty string")
    if ".." in key:
        raise ValueError(f"a file key may not contain '..': {key!r}")
    parts = key.split("/")
    if any(not _KEY_PART.fullmatch(part) for part in parts) or len(parts) > 8:
        raise ValueError(f"not a valid file key: {key!r} (expected a relative path such as cases/<uuid>/<uuid>)")
    return key


class LocalDiskStore:
    """Files under a folder on the local disk, one file per key."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalDiskStore({str(self.root)!r})"

    def path_of(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"file key {key!r} leads outside the store's folder")
        return path

    def put(self, key: str, content: bytes) -> None:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        _fsync_directory(path.parent)

    def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound("file_not_found", "فایل پیدا نشد.", f"no file is stored under {key!r}") from None

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename or an unlink in directory durable (where the platform allows opening one)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def store_from_url(url: str) -> FileStore:
    """The store a URL names: file:///absolute/path is a LocalDiskStore there."""
    parts = urlsplit(url or "")
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"a file store URL needs an absolute path, as in file:///var/lib/welfare/files; got {url!r}")
        return LocalDiskStore(path)
    raise ValueError(f"unsupported file store URL {url!r}: the scheme {parts.scheme or '(none)'!r} has no store; "
                     "supported: file:///absolute/path")


def default_store() -> FileStore:
    """The store of the settings: FILE_STORE_URL, or the folder files/ in the data folder."""
    settings = get_settings()
    if settings.file_store_url:
        return store_from_url(settings.file_store_url)
    return LocalDiskStore(settings.data_dir / "files")
