"""The crawler's manners come from settings: robots.txt, throttling, few requests per domain, an
honest User-Agent with the operator's contact, no HTTP cache outside development."""

from spiders.run import project_settings


def test_polite_defaults(tmp_path):
    s = project_settings(tmp_path / "l.db", tmp_path / "data")
    assert s.getbool("ROBOTSTXT_OBEY") and s.getbool("AUTOTHROTTLE_ENABLED")
    assert 1 <= s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    assert not s.getbool("HTTPCACHE_ENABLED")
    assert "lootwatch" in s.get("USER_AGENT") and "+https://" in s.get("USER_AGENT")


def test_user_agent_follows_the_configured_contact(tmp_path):
    s = project_settings(
        tmp_path / "l.db", tmp_path / "data", LOOTWATCH_CONTACT_URL="https://unit.example/lw"
    )
    assert s.get("USER_AGENT").endswith("+https://unit.example/lw)")
