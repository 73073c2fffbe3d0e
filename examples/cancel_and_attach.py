"""Keep a run's id, pick the run up again from another client, cancel one.

A background run lives on the server (results are kept for days): a process that
restarts attaches to it by id instead of paying for it twice::

    python examples/cancel_and_attach.py
"""

from __future__ import annotations

from yc_responses import Cancelled, YandexOpenAI
from yc_responses.testing import demo_client


def main(client: YandexOpenAI) -> None:
    run = client.background.create(model="yandexgpt", input="Write a long essay on rivers.")
    saved_id = run.id  # e.g. written to a file or a database

    # later, maybe in another process: no request is made until the run is used
    again = client.copy().background.attach(saved_id)
    print("Attached to", again.id, "status:", again.refresh())

    unwanted = client.background.create(model="yandexgpt", input="Something we do not need.")
    result = unwanted.cancel()
    print("Cancelled:", isinstance(result, Cancelled), "->", result.status)

    print("Essay:", again.wait(timeout=600).unwrap()[:80], "...")


if __name__ == "__main__":
    with demo_client() as client:
        main(client)
