"""The S3-compatible object storage between crawler nodes and the review machine (boto3).

``AWS_ENDPOINT_URL`` in the environment selects MinIO, Ceph, Garage or a cloud (unset: AWS itself);
credentials come from boto3's usual places (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile,
an instance role). Objects are written once and never replaced: a key names what it holds.

Keys under the storage URL's prefix (``s3://bucket/prefix``):

- ``batches/<site>/<YYYY-MM-DD>/<node>/<job>-<batch>.jsonl``: a node's lots, one JSON object a line
- ``photos/<sha256[:2]>/<sha256>``: original photo bytes, by their SHA-256
- ``warc/<site>/<YYYY-MM-DD>/<node>/<file>.warc.gz``: the WARC files of a run (the evidence)
- ``runs/<site>/<YYYY-MM-DD>/<node>/<job>.json``: a run's summary (counts, how it ended, its errors)
- ``jobs/<job>.json``: a job the review machine scheduled, with its site and node (``origins``)

Once a call finds the storage unreachable or silent (a refused connection, a timeout), every later call
of the same ``ObjectStore`` fails at once with that reason: an ingest then leaves what is left for the
next one instead of waiting out every timeout again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ObjectStore",
    "StorageError",
    "parse_url",
    "batch_key",
    "photo_key",
    "warc_key",
    "run_key",
    "BATCHES",
    "RUNS",
    "JOBS",
]

BATCHES = "batches/"
RUNS = "runs/"
JOBS = "jobs/"
TIMEOUTS = {"connect_timeout": 5, "read_timeout": 20, "retries": {"max_attempts": 3, "mode": "standard"}}


class StorageError(RuntimeError):
    """The object storage refused or could not be reached; the message says which and why."""


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix ending in "/" or empty).

    :raises ValueError: not an ``s3://`` URL with a bucket.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.hostname:
        raise ValueError(f"storage URL {url!r} must look like s3://bucket or s3://bucket/prefix")
    prefix = parts.path.strip("/")
    return parts.hostname, f"{prefix}/" if prefix else ""


def batch_key(site: str, day: str, node: str, job: str, batch: int) -> str:
    """Key of one feed batch, relative to the storage prefix."""
    return f"{BATCHES}{site}/{day}/{node}/{job}-{batch:05d}.jsonl"


def photo_key(sha256: str) -> str:
    """Key of a photo's original bytes, relative to the storage prefix."""
    return f"photos/{sha256[:2]}/{sha256}"


def run_key(site: str, day: str, node: str, job: str) -> str:
    """Key of one run's summary (counts, how it ended, its errors), relative to the storage prefix."""
    return f"{RUNS}{site}/{day}/{node}/{job}.json"


def warc_key(site: str, day: str, node: str, name: str) -> str:
    """Key of one WARC file of a run, relative to the storage prefix."""
    return f"warc/{site}/{day}/{node}/{name}"


@dataclass
class ObjectStore:
    """One bucket and prefix of S3-compatible storage; every key given is relative to the prefix."""

    url: str
    client: Any = None
    down: str | None = None  # why the storage stopped answering, once a call found it so

    def __post_init__(self) -> None:
        self.bucket, self.prefix = parse_url(self.url)
        if self.client is None:
            import boto3  # the nodes extra: single-machine mode runs without it
            from botocore.config import Config

            # A storage server that accepts connections and never answers must not hang an ingest: each
            # call gives up after its timeouts (a read timeout is per socket read, so large objects stream).
            self.client = boto3.client("s3", config=Config(**TIMEOUTS))

    def put_once(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key`` unless an object is there already; True when written.

        Immutable keys: a second writer of the same key holds the same bytes (a SHA-256 or a job id
        names it), so what is there is kept.
        """
        if self.exists(key):
            return False
        self._call(
            "put", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        )
        return True

    def put_file_once(self, key: str, path: str) -> bool:
        """``put_once`` for a file on disk, streamed (a WARC file may be a gigabyte)."""
        if self.exists(key):
            return False
        self._call("put", key, lambda: self.client.upload_file(path, self.bucket, self.prefix + key))
        return True

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

        return self._call("look up", key, head)

    def get(self, key: str, max_bytes: int) -> bytes:
        """The bytes of ``key``; an object larger than ``max_bytes`` is refused unread.

        :raises StorageError: missing, too large, or the storage could not be reached.
        """

        def read() -> bytes:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            size = int(answer.get("ContentLength") or 0)
            if size > max_bytes:
                answer["Body"].close()
                raise StorageError(f"{key}: {size:,} bytes, over the limit of {max_bytes:,}")
            data = answer["Body"].read(max_bytes + 1)
            if len(data) > max_bytes:
                raise StorageError(f"{key}: over the limit of {max_bytes:,} bytes")
            return data

        return self._call("get", key, read)

    def download(self, key: str, path: Path) -> None:
        """Copy ``key`` to the file ``path`` (written beside and renamed: never half a file under its name).

        :raises StorageError: missing, or the storage could not be reached.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            self._call(
                "get", key, lambda: self.client.download_file(self.bucket, self.prefix + key, str(partial))
            )
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[tuple[str, int]]:
        """(key relative to the storage prefix, size in bytes) of every object under ``prefix``, sorted."""
        out = []

        def page_through() -> None:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    out.append((obj["Key"][len(self.prefix) :], int(obj.get("Size") or 0)))

        self._call("list", prefix, page_through)
        return sorted(out)

    def _call(self, what: str, key: str, call: Any) -> Any:
        if self.down is not None:
            raise StorageError(f"{self._where()}: cannot {what} {key}: not tried, {self.down}")
        try:
            return call()
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001 - boto3 raises many kinds; each is one line here
            reason = _reason(exc, self.bucket)
            if _unreachable(exc):
                self.down = f"the storage stopped answering earlier ({reason})"
            raise StorageError(f"{self._where()}: cannot {what} {key}: {reason}") from exc

    def _where(self) -> str:
        """The storage URL and the server it goes to: a missing AWS_ENDPOINT_URL sends it to AWS."""
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        named = os.environ.get("AWS_ENDPOINT_URL")
        server = endpoint or named
        return f"{self.url} at {server}" + ("" if named else " (AWS_ENDPOINT_URL is not set)")


def _unreachable(exc: Exception) -> bool:
    """A refused connection or a timeout (botocore's connection errors), not an answer such as 404."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, BotoConnectionError | HTTPClientError | TimeoutError | ConnectionError)


def _reason(exc: Exception, bucket: str) -> str:
    """One line for a failed storage call, saying what to do where boto3's words do not."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    if code == "NoSuchBucket":
        return f"the bucket {bucket!r} does not exist: create it, or correct the storage URL"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
        return f"refused ({code}): check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    return f"{type(exc).__name__}: {exc}"
