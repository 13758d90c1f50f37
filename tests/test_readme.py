"""The README's examples work as written."""

import re
import tomllib

from lootwatch.config import load_config
from spiders.registries.files import read_registry_file

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def block(lang: str) -> str:
    return re.search(rf"```{lang}\n(.*?)```", README, re.S).group(1)


def test_registry_csv_example(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "2024-017.jpg").write_bytes(b"not checked at read time")
    (tmp_path / "r.csv").write_text(block("csv"))
    parsed = read_registry_file(tmp_path / "r.csv")
    assert parsed.errors == []
    (rec,) = parsed.records
    assert (rec["source"], rec["source_id"], rec["status"]) == ("my-bulletin", "2024-017", "looted")
    assert rec["image_urls"][1] == "https://example.org/2024-017b.jpg"


def test_config_example(tmp_path):
    cfg_file = tmp_path / "lootwatch.toml"
    cfg_file.write_text(block("toml"))
    tomllib.loads(block("toml"))
    cfg = load_config(cfg_file)
    assert cfg.db == tmp_path / "lootwatch.db"
    assert cfg.mail_to == ["analyst@example.org"]
    assert cfg.scrapy["DOWNLOAD_DELAY"] == 2
    assert cfg.scrapy["LOOTWATCH_CONTACT_URL"].startswith("https://")


def test_commands_listed_exist():
    from click.testing import CliRunner

    from lootwatch.cli import main

    surface = next(b for b in re.findall(r"```\n(.*?)```", README, re.S) if "lootwatch demo" in b)
    lines = [line for line in surface.splitlines() if line.startswith("lootwatch ")]
    assert len(lines) == 14
    for line in lines:
        words = [w for w in line.split("#")[0].split()[1:] if w.isalpha()]
        result = CliRunner().invoke(main, [*words, "--help"])
        assert result.exit_code == 0, (line, result.output)
