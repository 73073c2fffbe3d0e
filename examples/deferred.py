"""The older asynchronous API (completionAsync + Operation), with the same results.

``client.deferred`` submits an operation and polls it until it is done::

    python examples/deferred.py
"""

from __future__ import annotations

from yc_responses import Completed, Incomplete, YandexOpenAI
from yc_responses.testing import demo_client


def main(client: YandexOpenAI) -> None:
    operation = client.deferred.create(
        model="yandexgpt-lite",
        messages=[
            {"role": "system", "text": "Translate the text"},
            {"role": "user", "text": "To be, or not to be: that is the question."},
        ],
        temperature=0.1,
        max_tokens=2000,
    )
    print("Operation:", operation.id)

    match operation.wait(timeout=600):
        case Completed(output_text=text, response=done):
            print("Translation:", text)
            print("Usage:", done.usage, "model version:", done.model_version)
        case Incomplete(reason=reason):
            print("Cut short:", reason)
        case other:
            print("Ended as", other.status)


if __name__ == "__main__":
    with demo_client() as client:
        main(client)
