"""The README's examples work as written."""

import re
import tomllib

import pytest

from lootwatch.config import load_config
from lootwatch.demo import README_BLOCK, composition, readme_figures
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
    assert cfg.alert_urls[0] == "ntfy://ntfy.my-unit.example/lootwatch" and cfg.alert_summary is True
    assert (cfg.review_url, cfg.digest_limit) == ("http://127.0.0.1:8001", 50)


def test_commands_listed_exist():
    from click.testing import CliRunner

    from lootwatch.cli import main

    surface = next(b for b in re.findall(r"```\n(.*?)```", README, re.S) if "lootwatch demo" in b)
    lines = [line for line in surface.splitlines() if line.startswith("lootwatch ")]
    assert {line.split()[1] for line in lines} == set(main.commands)  # every command, and no other
    for line in lines:
        words = [w for w in line.split("#")[0].split()[1:] if w.isalpha()]
        result = CliRunner().invoke(main, [*words, "--help"])
        assert result.exit_code == 0, (line, result.output)


def test_demo_figures_are_written_from_the_demo_itself():
    """The README's account of what the demo is made of is ``readme_figures()``, made from the demo's
    own parameters; after a change to the demo, `python -m lootwatch.demo README.md` writes it again."""
    block = README_BLOCK.search(README)
    assert block, "README.md lost its demo-figures markers"
    assert block.group(2) == readme_figures("full"), "run: .venv/bin/python -m lootwatch.demo README.md"


@pytest.mark.slow
def test_demo_figures_are_what_a_demo_run_builds_and_crawls(small_demo):
    """The counts the README's figures come from are those of a real run: its ground truth (what was
    drawn) and its database (what was crawled). The run is the small demo that tests/test_demo_e2e.py
    scores; the full demo differs only in the parameters ``composition`` reads."""
    summary = small_demo["summary"]
    assert summary["composition"] == composition("small")
    assert summary["lots"] == summary["composition"]["lots"]
    assert summary["registry_objects"] == summary["composition"]["registry_objects"]
