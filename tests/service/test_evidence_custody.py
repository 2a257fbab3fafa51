"""Evidence under the whistleblower's custody (issue 18, SPEC C4, C17): a photo is kept without its EXIF
and GPS; an upload with a wrong code or secret is refused before the gateway reads a byte of it; a case
has a quota of files and bytes. The gateway in process (its body reads counted) before the complaints
service on the real broker and PostgreSQL."""
from __future__ import annotations

import hashlib
import io
import uuid

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image

from common.config import Settings, get_settings
from gateway.app import create_app
from gateway.rpc import RpcClient
from services.complaints import evidence, files
from services.complaints.files import LocalDiskStore
from services.complaints.service import ComplaintsService
from tests.helpers import TEST_RPC_SECONDS

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REPORT = {"kind": "violation_report", "text": "در این مرکز برای پذیرش مددجو از خانواده‌ها پول گرفته می‌شود."}
LATITUDE = (35.0, 41.0, 22.2)


def photo_with_gps(image_format: str = "JPEG", orientation: int = 6) -> bytes:
    """What a phone sends: its make, the orientation, a comment, and where the photo was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "WhistlePhone"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (51.0, 23.0, 20.0)
    out = io.BytesIO()
    extra = {"comment": b"home of the reporter"} if image_format == "JPEG" else {}
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, image_format, exif=exif, **extra)
    content = out.getvalue()
    assert Image.open(io.BytesIO(content)).getexif().get_ifd(ExifTags.IFD.GPSInfo)[2] == LATITUDE
    return content


class CountedInput(io.BytesIO):
    """The request's body, counting what the gateway reads of it."""

    def __init__(self, stream, counter: dict):
        super().__init__(stream.read())
        self.counter = counter

    def read(self, size=-1):
        data = super().read(size)
        self.counter["read"] += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.counter["read"] += count
        return count

    def readline(self, size=-1):
        data = super().readline(size)
        self.counter["read"] += len(data)
        return data


@pytest.fixture
def store(tmp_path, monkeypatch):
    kept = LocalDiskStore(tmp_path / "files")
    monkeypatch.setattr(evidence, "_store", kept)
    return kept


@pytest.fixture
def gateway(container_factory, service_config, store):
    container_factory(ComplaintsService, service_config).start()
    app = create_app(RpcClient({**get_settings().nameko_config(), **service_config}, timeout=TEST_RPC_SECONDS),
                     Settings(rate_limits_enabled=False))
    counter = {"read": 0}
    inner = app.wsgi_app

    def counting(environ, start_response):
        counter["read"] = 0
        environ["wsgi.input"] = CountedInput(environ["wsgi.input"], counter)
        return inner(environ, start_response)

    app.wsgi_app = counting
    client = app.test_client()
    client.body_read = counter
    return client


@pytest.fixture
def report(gateway):
    answer = gateway.post("/api/v1/cases", json=REPORT, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201
    return answer.get_json()


def upload(gateway, report, content: bytes, name: str = "photo.jpg", secret: str | None = None):
    secret = report["secret"] if secret is None else secret
    return gateway.post(f"/api/v1/cases/{report['tracking_code']}/evidence", headers={"X-Case-Secret": secret},
                        data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def stored_files(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT storage_key, sha256, size FROM case_files ORDER BY uploaded_at")).all()


def test_a_photo_is_kept_without_its_exif_and_gps_and_a_pdf_as_it_came(gateway, report, store, engine_of):
    sent = photo_with_gps()
    saved = upload(gateway, report, sent)
    assert saved.status_code == 201, saved.get_data(as_text=True)
    assert upload(gateway, report, PDF, "receipt.pdf").status_code == 201

    (photo_key, photo_sha, photo_size), (pdf_key, _, _) = stored_files(engine_of("complaints"))
    kept = store.get(photo_key)
    assert kept != sent and b"WhistlePhone" not in kept and b"home of the reporter" not in kept
    image = Image.open(io.BytesIO(kept))
    assert dict(image.getexif()) == {} and image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert image.format == "JPEG" and image.size == (48, 64)  # turned upright as its orientation said
    assert saved.get_json()["sha256"] == photo_sha == hashlib.sha256(kept).hexdigest()
    assert saved.get_json()["size"] == photo_size == len(kept)
    assert store.get(pdf_key) == PDF


@pytest.mark.parametrize("image_format, name", [("PNG", "map.png"), ("WEBP", "map.webp")])
def test_png_and_webp_lose_their_exif_too(gateway, report, store, engine_of, image_format, name):
    assert upload(gateway, report, photo_with_gps(image_format, orientation=1), name).status_code == 201
    (key, _, _), = stored_files(engine_of("complaints"))
    kept = store.get(key)
    assert b"WhistlePhone" not in kept and dict(Image.open(io.BytesIO(kept)).getexif()) == {}


def test_an_upload_with_a_wrong_secret_or_code_is_refused_before_its_body_is_read(gateway, report, engine_of):
    wrong_secret = upload(gateway, report, PDF, "a.pdf", secret="A" * 16)
    assert wrong_secret.status_code == 404 and gateway.body_read["read"] == 0
    unknown = gateway.post("/api/v1/cases/4203917755102846/evidence", data={"file": (io.BytesIO(PDF), "a.pdf")},
                           content_type="multipart/form-data")
    assert unknown.status_code == 404 and gateway.body_read["read"] == 0
    # a body that cannot be parsed: refused for the secret, which means it was never parsed
    garbage = {"data": b"--x\r\nnot a form" * 1000, "content_type": "multipart/form-data; boundary=x"}
    path = f"/api/v1/cases/{report['tracking_code']}/evidence"
    assert gateway.post(path, headers={"X-Case-Secret": "A" * 16}, **garbage).status_code == 404
    assert gateway.body_read["read"] == 0
    parsed = gateway.post(path, headers={"X-Case-Secret": report["secret"]}, **garbage)
    assert parsed.status_code == 400 and parsed.get_json()["errors"][0]["field"] == "file"
    assert gateway.body_read["read"] > 0  # with the right secret the body is read: the counter counts
    assert stored_files(engine_of("complaints")) == []


def test_a_case_s_quota_of_files_is_refused_in_persian_naming_the_file_and_before_the_body(gateway, report, monkeypatch,
                                                                                        engine_of):
    monkeypatch.setattr(files, "MAX_FILES_PER_CASE", 2)
    assert [upload(gateway, report, PDF, "a.pdf").status_code for _ in range(2)] == [201, 201]
    refused = upload(gateway, report, PDF, "a.pdf")
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/problem+json"
    (error,) = refused.get_json()["errors"]
    assert error["field"] == "file" and error["code"] == "too_many_files" and "۲ فایل" in error["message"]
    assert gateway.body_read["read"] == 0
    assert len(stored_files(engine_of("complaints"))) == 2


def test_a_case_s_quota_of_bytes_is_refused_and_nothing_is_kept(gateway, report, monkeypatch, engine_of, store):
    monkeypatch.setattr(files, "MAX_BYTES_PER_CASE", len(PDF) * 3 // 2)
    assert upload(gateway, report, PDF, "a.pdf").status_code == 201
    over = upload(gateway, report, PDF, "b.pdf")
    assert over.status_code == 400
    (error,) = over.get_json()["errors"]
    assert error["field"] == "file" and error["code"] == "case_storage_full" and "مگابایت" in error["message"]
    assert len(stored_files(engine_of("complaints"))) == 1
    assert len(list((store.root / "cases").rglob("*"))) == 2  # the case's folder and its one file

    monkeypatch.setattr(files, "MAX_BYTES_PER_CASE", len(PDF))  # now full: refused before the body is read
    full = upload(gateway, report, PDF, "c.pdf")
    assert full.status_code == 400 and full.get_json()["errors"][0]["code"] == "case_storage_full"
    assert gateway.body_read["read"] == 0
