"""On a crawler node, every WARC file goes to object storage as soon as it is complete."""

from __future__ import annotations

from typing import Any

from matcher.nodes.objectstore import StorageError, warc_key

from .node import node_context
from .warc import WarcMiddleware

__all__ = ["NodeWarcMiddleware"]


class NodeWarcMiddleware(WarcMiddleware):
    """``WarcMiddleware`` that uploads each WARC file when it is closed (rolled over or at the end of the
    crawl) to ``warc/<site>/<day>/<node>/<file>``; the local copy stays on the node. A failed upload is
    an ``errors`` row of the run (stage ``evidence``) and a count, and the crawl goes on."""

    def close(self, *args: Any, **kwargs: Any) -> None:
        path = self.path if self.file is not None else None
        super().close(*args, **kwargs)
        if path is None:
            return
        context = node_context(self.crawler)
        key = warc_key(self.crawler.spider.name, context.day, context.node, path.name)
        try:
            context.store.put_file_once(key, str(path))
            self.crawler.stats.inc_value("lootwatch/node/warc_uploaded")
        except StorageError as exc:
            self.error(str(path), f"WARC file not uploaded: {exc}")
