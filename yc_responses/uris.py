"""Model URIs: ``gpt://<folder>/<model>/<version>`` and friends.

Yandex AI Studio names models by URI. A short name is expanded with the client's
folder; a full URI passes unchanged::

    >>> model_uri("yandexgpt", "b1gfolder")
    'gpt://b1gfolder/yandexgpt/latest'
    >>> model_uri("yandexgpt/rc", "b1gfolder")
    'gpt://b1gfolder/yandexgpt/rc'
    >>> model_uri("text-search-doc", "b1gfolder")
    'emb://b1gfolder/text-search-doc/latest'
    >>> model_uri("gpt://other/yandexgpt-lite/latest@tun3d", "b1gfolder")
    'gpt://other/yandexgpt-lite/latest@tun3d'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["EMBEDDING_MODELS", "ModelKind", "ModelURI", "model_uri", "parse_model_uri"]

ModelKind = Literal["gpt", "emb"]

EMBEDDING_MODELS = frozenset({"text-search-doc", "text-search-query", "text-embeddings"})
"""Short names expanded to ``emb://`` URIs even outside the embeddings endpoint."""

_TOKEN = r"[A-Za-z0-9][A-Za-z0-9._-]*"  # noqa: S105 (a name pattern)
_SHORT = re.compile(rf"(?P<name>{_TOKEN})(?:/(?P<version>{_TOKEN}))?(?:@(?P<suffix>{_TOKEN}))?")
_STRUCTURED = re.compile(
    rf"(?P<scheme>gpt|emb)://(?P<folder>{_TOKEN})/(?P<name>{_TOKEN})"
    rf"(?:/(?P<version>{_TOKEN}))?(?:@(?P<suffix>{_TOKEN}))?"
)
_DATASET = re.compile(rf"ds://(?P<name>{_TOKEN})")
_OTHER = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://\S+")

ACCEPTED_FORMS = (
    "a short name ('yandexgpt', 'yandexgpt/rc', 'yandexgpt-lite/latest@suffix', "
    "'text-search-doc'), or a full URI ('gpt://<folder>/<model>[/<version>][@<suffix>]', "
    "'emb://<folder>/<model>[/<version>]', 'ds://<id>')"
)


@dataclass(frozen=True)
class ModelURI:
    """A parsed ``gpt://`` or ``emb://`` URI."""

    scheme: ModelKind
    folder_id: str
    name: str
    version: str = "latest"
    suffix: str | None = None

    def __str__(self) -> str:
        tail = f"@{self.suffix}" if self.suffix else ""
        return f"{self.scheme}://{self.folder_id}/{self.name}/{self.version}{tail}"


def _malformed(name: object) -> ValueError:
    return ValueError(f"malformed model name {name!r}: expected {ACCEPTED_FORMS}")


def parse_model_uri(uri: str) -> ModelURI:
    """Parse a full ``gpt://`` or ``emb://`` URI; raise ``ValueError`` otherwise.

    >>> parse_model_uri("gpt://b1g/yandexgpt").version
    'latest'
    """
    match = _STRUCTURED.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        raise _malformed(uri)
    return ModelURI(
        scheme="gpt" if match["scheme"] == "gpt" else "emb",
        folder_id=match["folder"],
        name=match["name"],
        version=match["version"] or "latest",
        suffix=match["suffix"],
    )


def model_uri(name: str, folder_id: str, *, kind: ModelKind | None = None) -> str:
    """Expand a short model name with ``folder_id``; pass a full URI unchanged.

    ``kind`` picks the scheme of a short name: ``"emb"`` on the embeddings
    endpoint, ``"gpt"`` elsewhere. Left as ``None``, the names in
    :data:`EMBEDDING_MODELS` become ``emb://`` and every other name ``gpt://``.
    A malformed name raises ``ValueError`` listing the accepted forms.
    """
    if not isinstance(name, str):
        raise _malformed(name)
    if "://" in name:
        if name.startswith(("gpt://", "emb://")):
            parse_model_uri(name)
        elif name.startswith("ds://"):
            if _DATASET.fullmatch(name) is None:
                raise _malformed(name)
        elif _OTHER.fullmatch(name) is None:
            raise _malformed(name)
        return name
    match = _SHORT.fullmatch(name)
    if match is None:
        raise _malformed(name)
    if kind is None:
        kind = "emb" if match["name"] in EMBEDDING_MODELS else "gpt"
    return str(
        ModelURI(
            scheme=kind,
            folder_id=folder_id,
            name=match["name"],
            version=match["version"] or "latest",
            suffix=match["suffix"],
        )
    )
