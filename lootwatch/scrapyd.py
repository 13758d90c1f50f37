"""Scrapyd's HTTP API, through scrapyd-client, with a timeout and one-line errors.

scrapyd-client's ``ScrapydClient`` sends its requests without a timeout, so a node whose address drops
packets would hang ``lootwatch crawl --nodes`` for ever; this subclass bounds every call and turns every
failure (refused, timed out, an error answer, not JSON) into ``NodeUnreachable`` with one line.
"""

from __future__ import annotations

from typing import Any

import requests
from scrapyd_client.exceptions import ErrorResponse, MalformedResponse
from scrapyd_client.pyclient import HEADERS, ScrapydClient, _process_response

__all__ = ["Scrapyd", "NodeUnreachable", "PROJECT", "TIMEOUT"]

PROJECT = "lootwatch"  # the project name in scrapyd.conf's [settings] (README, "Running on several machines")
TIMEOUT = 10.0  # seconds for one API call


class NodeUnreachable(RuntimeError):
    """A node's Scrapyd could not be reached or refused the call; the message is one line."""


class Scrapyd(ScrapydClient):
    """One node's Scrapyd: ``schedule``, ``jobs``, ``daemonstatus`` of scrapyd-client, bounded in time."""

    def __init__(self, url: str, timeout: float = TIMEOUT):
        super().__init__(url)
        self.timeout = timeout

    def _get(self, basename: str, params: Any = None) -> Any:
        return self._call(basename, lambda: requests.get(**self._args(basename), params=params or {}))

    def _post(self, basename: str, data: Any) -> Any:
        return self._call(basename, lambda: requests.post(**self._args(basename), data=data))

    def _args(self, basename: str) -> dict[str, Any]:
        return {
            "url": f"{self.url}/{basename}.json",
            "headers": HEADERS,
            "auth": self.auth,
            "timeout": self.timeout,
        }

    def _call(self, basename: str, send: Any) -> Any:
        try:
            return _process_response(send())
        except requests.RequestException as exc:
            reason = type(exc).__name__
            if isinstance(exc, requests.ConnectionError):
                reason = (
                    "connection refused or no route" if "refused" in str(exc).lower() else "cannot connect"
                )
            raise NodeUnreachable(f"{self.url}: {basename}: {reason}") from exc
        except ErrorResponse as exc:
            raise NodeUnreachable(f"{self.url}: {basename}: Scrapyd says {exc}") from exc
        except (MalformedResponse, KeyError, RuntimeError) as exc:
            raise NodeUnreachable(
                f"{self.url}: {basename}: not Scrapyd's answer ({type(exc).__name__})"
            ) from exc
