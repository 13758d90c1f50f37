import numpy as np
from PIL import Image, ImageDraw, ImageFont

from matcher.photo.hashes import pdq
from matcher.photo.segments import segment_boxes
from matcher.search.index import hamming


def photo(seed: int, size=(240, 180)) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = (rng.random((size[1] // 10, size[0] // 10, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC)


def near(box, expected, slack=6) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(box, expected, strict=True))


def test_collage_tiles_found_one_by_one():
    sheet = Image.new("RGB", (500, 380), "white")
    tiles = [(10, 10), (260, 10), (10, 200), (260, 200)]
    for n, (x, y) in enumerate(tiles):
        sheet.paste(photo(n), (x, y))
    boxes = segment_boxes(sheet)
    for x, y in tiles:
        assert any(near(b, (x, y, x + 240, y + 180)) for b in boxes), boxes
    # tiles come first, and each hashes like the photo it was cut from
    first = pdq(sheet.crop(segment_boxes(sheet)[0]))[0]
    assert min(hamming(first, pdq(photo(n))[0]) for n in range(4)) <= 16


def test_photo_on_a_screenshot_found():
    page = Image.new("RGB", (640, 400), (250, 250, 250))
    d = ImageDraw.Draw(page)
    d.rectangle([0, 0, 640, 35], fill=(222, 225, 230))
    d.text((70, 10), "https://auctions.example/lot/1", font=ImageFont.load_default(size=12), fill="black")
    page.paste(photo(9, (300, 225)), (30, 60))
    for i in range(6):
        d.text((360, 60 + 20 * i), "Estimate EUR 800 - 1,200", font=ImageFont.load_default(size=12), fill=0)
    assert any(near(b, (30, 60, 330, 285)) for b in segment_boxes(page)), segment_boxes(page)


def test_plain_photo_and_blank_picture_have_no_parts():
    assert segment_boxes(photo(3, (512, 384))) == []
    assert segment_boxes(Image.new("RGB", (300, 200), "white")) == []


def test_padded_photo_is_one_part():
    page = Image.new("RGB", (400, 300), "white")
    page.paste(photo(4, (300, 200)), (50, 50))
    boxes = segment_boxes(page)
    assert len(boxes) == 1 and near(boxes[0], (50, 50, 350, 250)), boxes


def test_thin_margin_is_no_part():
    page = Image.new("RGB", (330, 220), "white")
    page.paste(photo(4, (300, 200)), (15, 10))
    assert segment_boxes(page) == []  # nearly the whole picture: the border trim covers it


def test_object_on_a_plain_backdrop_is_no_part():
    backdrop = Image.new("RGB", (400, 300), (200, 200, 205))
    ImageDraw.Draw(backdrop).ellipse((120, 70, 280, 230), fill=(150, 110, 40))
    assert segment_boxes(backdrop) == []  # the trimmed view serves it; only a rectangle is a photo


def test_pasted_photo_with_a_pale_backdrop_is_one_part():
    grain = np.random.default_rng(5).normal(238, 6, (200, 300, 1)).clip(0, 255).astype(np.uint8)
    pale = Image.fromarray(grain.repeat(3, axis=2))  # a studio backdrop a little darker than the page
    ImageDraw.Draw(pale).ellipse((100, 50, 200, 150), fill=(150, 110, 40))
    page = Image.new("RGB", (400, 300), "white")
    page.paste(pale, (50, 50))
    boxes = segment_boxes(page)
    assert len(boxes) == 1 and near(boxes[0], (50, 50, 350, 250)), boxes
