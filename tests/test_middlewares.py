import pytest

from spiders.middlewares import refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/a.jpg",
        "http://192.168.0.10/a.jpg",
        "http://172.16.5.4/a.jpg",
        "http://[::1]/a.jpg",
        "http://localhost/a.jpg",
        "http://printer.localhost/a.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "ftp://example.org/a.jpg",
    ],
)
def test_refused_by_default(url):
    assert refusal(url, allow_private=False, allow_files=False)


@pytest.mark.parametrize("url", ["https://example.org/a.jpg", "http://93.184.216.34/a.jpg"])
def test_public_allowed(url):
    assert refusal(url, allow_private=False, allow_files=False) is None


def test_configured_private_and_files():
    assert refusal("http://127.0.0.1:8000/x.jpg", allow_private=True, allow_files=False) is None
    assert refusal("file:///tmp/a.jpg", allow_private=False, allow_files=True) is None
    assert refusal("javascript:alert(1)", allow_private=True, allow_files=True)
