"""Deploy: deployments (routing with canary, shadow, blue-green promote and rollback, degrees of
automation) and the pure routing rules a server applies.

Importing this package loads no store: the workflow (:mod:`dcai.deploy.deployments`) and the
namespace (``ws.deployments``) are imported where they are used.
"""

from __future__ import annotations

from dcai.deploy._routing import ExactSplit, canary_by_key, key_position

__all__ = ["ExactSplit", "canary_by_key", "key_position"]
