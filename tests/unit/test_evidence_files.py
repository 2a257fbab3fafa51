import hashlib
import os
import struct
import zlib

import pytest

from common.config import Settings
from common.errors import InvalidRequest, NotFound
from services.complaints import files
from services.complaints.files import (
    ALLOWED_TYPES,
    MAX_FILE_BYTES,
    FileFacts,
    FileStore,
    LocalDiskStore,
    default_store,
    inspect,
    safe_filename,
    store_from_url,
)


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8 bits, RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + major + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + struct.pack(">I", 8) + b"free"


PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
       b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
PNG = png_1x1()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\xff\xd9"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x64" + bytes(64)
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead" + bytes(16)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00" + bytes(10)
M4A = iso_media(b"M4A ", b"mp42", b"isom")
MP4 = iso_media(b"isom", b"iso2", b"avc1", b"mp41")
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(60)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(50)


@pytest.mark.parametrize("content, content_type", [
    (PDF, "application/pdf"),
    (PNG, "image/png"),
    (JPEG, "image/jpeg"),
    (MP3, "audio/mpeg"),
    (OGG, "audio/ogg"),
    (WEBP, "image/webp"),
    (M4A, "audio/mp4"),
    (MP4, "video/mp4"),
])
def test_the_type_is_read_from_the_content(content, content_type):
    facts = inspect(content, "upload.bin")
    assert facts == FileFacts(content_type=content_type, size=len(content), sha256=hashlib.sha256(content).hexdigest())
    assert facts.content_type in ALLOWED_TYPES


def test_the_facts_are_frozen():
    facts = inspect(PNG, None)
    with pytest.raises(AttributeError):
        facts.size = 0  # type: ignore[misc]


def test_a_renamed_file_is_what_its_content_is():
    assert inspect(PNG, "report.pdf").content_type == "image/png"
    assert inspect(PDF, "photo.jpg").content_type == "application/pdf"


def test_an_animated_png_is_a_png():
    actl = struct.pack(">I", 8) + b"acTL" + struct.pack(">II", 1, 0) + b"\x00\x00\x00\x00"
    apng = PNG[:33] + actl + PNG[33:]
    assert inspect(apng, "a.png").content_type == "image/png"


def field_error(excinfo) -> dict:
    [error] = excinfo.value.errors
    assert error["field"] == "file"
    assert error["message"] and error["detail"]
    return error


@pytest.mark.parametrize("content, name", [
    (ELF, "photo.jpg"),
    (EXE, "scan.pdf"),
    (b"<html><script>alert(1)</script></html>", "page.pdf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image.svg"),
    (b"just some text", None),
    (b"PK\x03\x04" + bytes(40), "document.docx"),
])
def test_other_types_are_refused(content, name):
    with pytest.raises(InvalidRequest) as excinfo:
        inspect(content, name)
    error = field_error(excinfo)
    assert error["code"] == "type_not_allowed"
    assert "PDF" in error["message"] and "MP4" in error["message"]


def test_an_empty_file_is_refused():
    with pytest.raises(InvalidRequest) as excinfo:
        inspect(b"", "empty.pdf")
    assert field_error(excinfo)["code"] == "empty"


def test_a_file_over_the_limit_is_refused_and_one_at_the_limit_is_kept():
    with pytest.raises(InvalidRequest) as excinfo:
        inspect(b"%PDF" + bytes(MAX_FILE_BYTES - 3), "big.pdf")
    error = field_error(excinfo)
    assert error["code"] == "too_large" and "۱۰ مگابایت" in error["message"]
    assert inspect(b"%PDF" + bytes(MAX_FILE_BYTES - 4), "big.pdf").size == MAX_FILE_BYTES


def test_the_limits():
    assert MAX_FILE_BYTES == 10 * 1024 * 1024
    assert files.MAX_FILES_PER_CASE == 10


@pytest.mark.parametrize("name, content_type, expected", [
    ("../../etc/passwd", "application/pdf", "passwd"),
    ("C:\\Users\\citizen\\Desktop\\scan.pdf", "application/pdf", "scan.pdf"),
    ("bad\x00na\x07me\x1b[31m.pdf", "application/pdf", "badname[31m.pdf"),
    ("two\nlines\t.jpg", "image/jpeg", "two lines .jpg"),
    ("invoice\u202egpj.exe", "image/jpeg", "invoicegpj.exe"),
    ("نامه\u200cی اداره.pdf", "application/pdf", "نامه\u200cی اداره.pdf"),
    ("  .hidden  ", "image/png", "hidden"),
    (None, "image/png", "file.png"),
    ("", "audio/mp4", "file.m4a"),
    ("../..", "application/pdf", "file.pdf"),
    ("\x00\x01", None, "file"),
])
def test_safe_filename(name, content_type, expected):
    assert safe_filename(name, content_type) == expected


def test_a_long_filename_is_cut_keeping_its_extension():
    name = safe_filename("ا" * 300 + ".pdf", "application/pdf")
    assert len(name) == 120 and name.endswith(".pdf")
    assert len(safe_filename("x" * 300, None)) == 120


# The store


def test_put_then_get(tmp_path):
    store = LocalDiskStore(tmp_path / "files")
    assert isinstance(store, FileStore)
    key = "cases/6a1f7e0e-6a8b-4c4f-9a57-0b7b6e1f2a3c/0d7e5f8a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
    store.put(key, PDF)
    assert store.get(key) == PDF
    store.put(key, PNG)
    assert store.get(key) == PNG
    assert (tmp_path / "files" / key).read_bytes() == PNG
    assert os.listdir(tmp_path / "files" / "cases" / "6a1f7e0e-6a8b-4c4f-9a57-0b7b6e1f2a3c") == [key.rsplit("/", 1)[1]]
    store.delete(key)
    store.delete(key)
    with pytest.raises(NotFound):
        store.get(key)


def test_a_missing_key_is_not_found(tmp_path):
    store = LocalDiskStore(tmp_path)
    with pytest.raises(NotFound) as excinfo:
        store.get("cases/nothing/here")
    assert excinfo.value.code == "file_not_found" and excinfo.value.message
    store.put("cases/a/b", b"x")
    with pytest.raises(NotFound):
        store.get("cases/a")  # a folder is no file
    with pytest.raises(NotFound):
        store.get("cases/a/b/c")


@pytest.mark.parametrize("key", [
    "../outside", "cases/../../outside", "cases/a/..", "/etc/passwd", "cases//x", "cases/.hidden",
    "cases\\..\\x", "", "cases/a b", "cases/x/", "cases/a..b",
])
def test_keys_outside_the_store_are_refused(tmp_path, key):
    store = LocalDiskStore(tmp_path / "files")
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.delete(key)):
        with pytest.raises(ValueError):
            call()
    assert not (tmp_path / "outside").exists()


def test_a_link_out_of_the_store_is_refused(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "files" / "cases").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        LocalDiskStore(tmp_path / "files").put("cases/a", b"x")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    store = LocalDiskStore(tmp_path)
    store.put("cases/a/b", b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put("cases/a/b", b"new")
    monkeypatch.undo()
    assert store.get("cases/a/b") == b"old"
    assert os.listdir(tmp_path / "cases" / "a") == ["b"]


def test_store_from_url(tmp_path):
    store = store_from_url(f"file://{tmp_path}/files")
    assert isinstance(store, LocalDiskStore) and store.root == (tmp_path / "files").resolve()
    for url in ("s3://bucket/prefix", "file://relative/path", "file:relative", "", "/just/a/path"):
        with pytest.raises(ValueError):
            store_from_url(url)


def test_default_store(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "get_settings", lambda: Settings(data_dir=tmp_path, file_store_url=None))
    store = default_store()
    assert isinstance(store, LocalDiskStore) and store.root == (tmp_path / "files").resolve()
    monkeypatch.setattr(files, "get_settings", lambda: Settings(data_dir=tmp_path, file_store_url=f"file://{tmp_path}/other"))
    assert default_store().root == (tmp_path / "other").resolve()
