import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from matcher.photo.decode import MAX_PIXELS, TARGET, DecodeError, decode, shrink, trim_border
from matcher.photo.hashes import pdq
from matcher.search.index import hamming


def picture(size=(400, 300)) -> Image.Image:
    rng = np.random.default_rng(7)
    arr = (rng.random((size[1] // 10, size[0] // 10, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_result_is_rgb_and_fits_target():
    im = decode(encode(picture((2000, 1200)), "JPEG", quality=90))
    assert im.mode == "RGB"
    assert 0.9 * TARGET <= max(im.size) <= TARGET  # 2000 px at 1/4 is 500 px: close enough, no resize
    im = decode(encode(picture((2000, 1200)), "PNG"))
    assert max(im.size) == TARGET


def test_large_jpeg_decodes_at_the_smallest_dct_scale_near_target():
    # 4000 px at 1/8 is 500 px: no resize after the draft, and the same picture a full decode would give
    # (of a picture whose detail, like a photo's, is coarser than the decode's pixels).
    rng = np.random.default_rng(7)
    coarse = Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8))
    big = encode(coarse.resize((4000, 3000), Image.Resampling.BICUBIC), "JPEG", quality=90)
    im = decode(big)
    assert im.size == (500, 375)
    full = shrink(Image.open(io.BytesIO(big)).convert("RGB"), TARGET)
    assert hamming(pdq(im)[0], pdq(full)[0]) <= 10


def test_shrink_keeps_aspect_and_small_pictures():
    assert shrink(picture((1234, 617)), 500).size == (500, 250)
    assert shrink(picture((760, 380)), 500).size == (500, 250)
    small = picture((300, 200))
    assert shrink(small, 500) is small


def test_exif_orientation_applied():
    im = picture()
    rotated = im.transpose(Image.Transpose.ROTATE_90)  # stored pixels; orientation 6 turns them back
    exif = Image.Exif()
    exif[0x0112] = 6
    a = decode(encode(im, "JPEG", quality=95))
    b = decode(encode(rotated, "JPEG", quality=95, exif=exif.tobytes()))
    assert a.size == b.size
    assert hamming(pdq(a)[0], pdq(b)[0]) <= 10


def test_alpha_flattened_onto_white():
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle([16, 16, 47, 47], fill=(200, 0, 0, 255))
    out = decode(encode(im, "PNG"))
    assert out.getpixel((2, 2)) == (255, 255, 255)
    assert out.getpixel((32, 32)) == (200, 0, 0)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "I", "I;16", "F", "CMYK", "YCbCr", "HSV"])
def test_every_mode_decodes_to_rgb(mode):
    im = picture((64, 48)).convert("RGBA" if mode in ("LA", "PA") else "RGB")
    converted = im.convert(mode) if mode not in ("I;16",) else im.convert("I").convert("I;16")
    fmt = "TIFF" if mode in ("I", "I;16", "F", "CMYK", "YCbCr", "HSV") else "PNG"
    if mode in ("YCbCr", "HSV"):
        fmt = "JPEG" if mode == "YCbCr" else None
    if fmt is None:  # HSV has no file format; decode the converted picture through PNG as RGB
        converted = converted.convert("RGB")
        fmt = "PNG"
    assert decode(encode(converted, fmt)).mode == "RGB"


def test_animated_gif_first_frame():
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert decode(buf.getvalue()).getpixel((20, 20))[0] > 200


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"<html>not an image</html>", "not an image format"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 50, "image"),
    ],
)
def test_bad_bytes_raise_decode_error(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_truncated_jpeg_raises_or_decodes_without_crash():
    data = encode(picture(), "JPEG")[:2000]
    try:
        decode(data)
    except DecodeError:
        pass


def test_decompression_bomb_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 100
    data = encode(Image.new("1", (side, side)), "PNG")
    with pytest.raises(DecodeError, match="pixels"):
        decode(data)


def test_trim_border_removes_white_page_and_frame():
    photo = Image.new("RGB", (400, 300), (150, 150, 150))
    ImageDraw.Draw(photo).ellipse([100, 80, 220, 200], fill=(200, 100, 50))
    page = Image.new("RGB", (520, 420), "white")
    page.paste(photo, (60, 60))
    ImageDraw.Draw(page).rectangle([54, 54, 465, 365], outline=(120, 120, 120), width=2)
    # The border is found on a reduced copy, so the box is exact to a few pixels.
    for trimmed in (trim_border(page), trim_border(photo)):
        assert all(abs(side - 121) <= 4 for side in trimmed.size), trimmed.size


def test_trim_border_none_without_border():
    assert trim_border(picture()) is None


@pytest.mark.parametrize("n", [1, 3, 6, 8])
def test_shared_exif_rotations_decode_upright(shared, n):
    # The four files are separate shots of one desk; each must come out as it is meant to be seen.
    data = (shared / f"images/pdq/pdq/data/reg-test-input/exif-rotn/exif-rotn-{n}.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as f:
        f.draft("RGB", (512, 512))
        upright = encode(ImageOps.exif_transpose(f).convert("RGB"), "PNG")  # no EXIF left
    assert hamming(pdq(decode(data))[0], pdq(decode(upright))[0]) <= 8


def test_shared_modes_decode(shared):
    folder = shared / "images/pdq/pdq/data/misc-images/modes"
    files = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg", ".webp"))
    assert files
    ref = pdq(decode((folder / "original.jpg").read_bytes()))[0]
    far = {}
    for f in files:
        im = decode(f.read_bytes())
        assert im.mode == "RGB"
        far[f.name] = hamming(ref, pdq(im)[0])
    # Modes that keep the picture (colour or grey) must hash like the original.
    alike = {k: v for k, v in far.items() if k.split(".")[0] in ("RGB", "RGBA", "L", "LA", "CMYK", "YCbCr")}
    assert alike and max(alike.values()) <= 16, far
