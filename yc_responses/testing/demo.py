"""Run the same code against the live service or, with no credentials, the emulator.

::

    from yc_responses.testing import demo_client

    with demo_client() as client:        # YC_* set: Yandex AI Studio; else: an emulator
        print(client.background.run(model="yandexgpt", input="Hi").unwrap())

Examples and notebooks use it so that they run anywhere, and for real where
``YC_API_KEY`` (or ``YC_IAM_TOKEN``) and ``YC_FOLDER_ID`` are set.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from yc_responses.client import AsyncYandexOpenAI, YandexOpenAI
from yc_responses.settings import YandexSettings

from .server import Emulator

__all__ = ["demo_async_client", "demo_client", "demo_clients", "has_credentials"]

DEMO_DURATION = (0.2, 1.5)
"""How long the emulator's background runs take in demos, in seconds (drawn per run)."""


def has_credentials(settings: YandexSettings | None = None) -> bool:
    """Whether ``YC_*`` settings (environment or ``.env``) name a credential and a folder."""
    settings = settings or YandexSettings()
    return bool((settings.api_key or settings.iam_token) and settings.folder_id)


@contextmanager
def _client_or_emulator(emulated: bool | None, quiet: bool) -> Iterator[Emulator | None]:
    if emulated is None:
        emulated = not has_credentials()
    if not emulated:
        yield None
        return
    with Emulator(background_duration=DEMO_DURATION) as emulator:
        if not quiet:
            print(
                f"No YC_API_KEY/YC_IAM_TOKEN and YC_FOLDER_ID set: using the built-in emulator "
                f"at {emulator.base_url}",
                file=sys.stderr,
            )
        yield emulator


@contextmanager
def demo_client(
    *, emulated: bool | None = None, quiet: bool = False, **kwargs: Any
) -> Iterator[YandexOpenAI]:
    """A :class:`YandexOpenAI` from ``YC_*`` settings, or bound to a fresh emulator.

    ``emulated=True`` forces the emulator, ``False`` the live service; ``None``
    (the default) picks the emulator when no credentials are set, and says so on
    stderr unless ``quiet``.
    """
    with _client_or_emulator(emulated, quiet) as emulator:
        client = YandexOpenAI(**kwargs) if emulator is None else emulator.client(**kwargs)
        with client:
            yield client


@asynccontextmanager
async def demo_async_client(
    *, emulated: bool | None = None, quiet: bool = False, **kwargs: Any
) -> AsyncIterator[AsyncYandexOpenAI]:
    """:func:`demo_client` for :class:`AsyncYandexOpenAI`."""
    with _client_or_emulator(emulated, quiet) as emulator:
        client = (
            AsyncYandexOpenAI(**kwargs) if emulator is None else emulator.async_client(**kwargs)
        )
        async with client:
            yield client


@contextmanager
def demo_clients(
    *, emulated: bool | None = None, quiet: bool = False, **kwargs: Any
) -> Iterator[tuple[YandexOpenAI, AsyncYandexOpenAI]]:
    """A :class:`YandexOpenAI` and an :class:`AsyncYandexOpenAI` for the same place, for
    frameworks that take both (LangChain's ``ChatOpenAI``). The sync client is closed on
    exit; close the async one where it was used (``await client.close()``).

    >>> with demo_clients(quiet=True) as (client, async_client):  # doctest: +SKIP
    ...     llm = ChatOpenAI(model="yandexgpt", root_client=client, ...)
    """
    with _client_or_emulator(emulated, quiet) as emulator:
        if emulator is None:
            client, async_client = YandexOpenAI(**kwargs), AsyncYandexOpenAI(**kwargs)
        else:
            client, async_client = emulator.client(**kwargs), emulator.async_client(**kwargs)
        with client:
            yield client, async_client
