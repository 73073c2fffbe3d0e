"""What the library tells the ``yc_responses`` logger: runs created, looked at, ended.

INFO when a background run or an operation is created and when it ends, DEBUG for
each look at it; every record names the run and the service's ``x-request-id``
(what support asks for). No record holds a prompt, an answer or a secret::

    logging.getLogger("yc_responses").setLevel(logging.INFO)
"""

from __future__ import annotations

import logging

__all__ = ["logger", "run_created", "run_ended", "run_looked"]

logger = logging.getLogger("yc_responses")

_NOUNS = {"background": "background response", "deferred": "operation"}


def _noun(resource: str) -> str:
    return _NOUNS.get(resource, "run")


def run_created(resource: str, run_id: str, status: object, request_id: str | None) -> None:
    """A run was created."""
    logger.info("created %s %s: %s (x-request-id %s)", _noun(resource), run_id, status, request_id)


def run_looked(resource: str, run_id: str, status: object, request_id: str | None) -> None:
    """A look at a run answered."""
    logger.debug(
        "looked at %s %s: %s (x-request-id %s)", _noun(resource), run_id, status, request_id
    )


def run_ended(resource: str, run_id: str, status: object, request_id: str | None) -> None:
    """A wait saw a run end."""
    logger.info("%s %s ended: %s (x-request-id %s)", _noun(resource), run_id, status, request_id)
