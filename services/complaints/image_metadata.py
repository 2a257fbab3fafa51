"""Photos kept without what they say of the person who took them (issue 18, SPEC C17): a phone's JPEG
carries EXIF (the phone's make and serial, the time and, often, GPS coordinates of where it was
taken), XMP and comments; PNG and WebP can carry the same. An image is decoded and saved again with
none of it, only its pixels (turned upright first, as its EXIF orientation said) and its colour
profile. Other files are kept as they came.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import FieldError, InvalidRequest
from common.text import persian_digits

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_PIXELS = 64_000_000  # a 64-megapixel photo; decoding one takes ~200 MB, a bigger one is refused
_KEPT_INFO = ("icc_profile",)  # the colour profile: how the pixels look, nothing of who took them
_ORIENTATION = 0x0112


def without_metadata(content: bytes, content_type: str) -> bytes:
    """The image saved again without its metadata; any other type unchanged. InvalidRequest on field
    "file" when an image cannot be decoded or is larger than MAX_PIXELS."""
    image_format = FORMATS.get(content_type)
    if image_format is None:
        return content
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            if image.width * image.height > MAX_PIXELS:
                raise _too_many_pixels(image.width, image.height)
            image.load()
            return _saved(image, image_format)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, None) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidRequest([FieldError("file", "unreadable", "تصویر خوانده نشد؛ فایل سالم آن را بفرستید.",
                                         f"the image could not be decoded: {exc}")]) from None


def _saved(image: Image.Image, image_format: str) -> bytes:
    options: dict = {"exif": b""}
    upright = image.getexif().get(_ORIENTATION, 1) in (1, None)
    if image_format == "JPEG":
        # the same quantization as the original when the pixels are not turned: no visible loss
        options.update({"quality": "keep", "subsampling": "keep"} if upright else {"quality": 95})
    elif image_format == "WEBP":
        options.update({"lossless": True} if image.info.get("lossless") else {"quality": 90})
    frames = getattr(image, "n_frames", 1)
    if frames > 1:  # an animated PNG or WebP: every frame, with its timing
        durations = []
        for index in range(frames):
            image.seek(index)
            durations.append(image.info.get("duration", 100))
        image.seek(0)
        options.update({"save_all": True, "duration": durations, "loop": image.info.get("loop", 0)})
    elif not upright:
        image = ImageOps.exif_transpose(image)
    image.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def _too_many_pixels(width: int | None, height: int | None) -> InvalidRequest:
    size = f"{width}x{height} pixels" if width else "too many pixels"
    return InvalidRequest([FieldError(
        "file", "image_too_large",
        f"تصویر بیش از {persian_digits(MAX_PIXELS // 1_000_000)} مگاپیکسل است؛ آن را کوچک‌تر کنید و دوباره بفرستید.",
        f"{size}; at most {MAX_PIXELS} are accepted")])
