"""Quickstart: a plain answer, then a long generation in the background.

Talks to Yandex AI Studio when YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID are set,
else to the built-in emulator::

    python examples/quickstart.py
"""

from __future__ import annotations

from yc_responses import Cancelled, Completed, Failed, Incomplete, YandexOpenAI
from yc_responses.testing import demo_client

TEXT = (
    "Yandex AI Studio features over 20 models deployed in the cloud and available in various "
    "modes. The YandexGPT family models remain the most popular models in terms of consumption, "
    "claiming 62.7% of the cloud platform traffic."
)


def main(client: YandexOpenAI) -> None:
    reply = client.responses.create(model="yandexgpt", input="Say hello in one short sentence.")
    print("Plain answer:", reply.output_text)

    run = client.background.create(model="yandexgpt", input=f"Summarise briefly: {TEXT}")
    print("Task sent:", run.id)  # keep it: client.background.attach(run.id) resumes
    result = run.wait(timeout=600, on_status=lambda status, _: print("Status:", status))

    match result:
        case Completed(output_text=text):
            print("Final response:", text)
        case Incomplete(reason=reason, output_text=text):
            print(f"Cut short ({reason}):", text)
        case Failed(error=error):
            print("Failed:", error.code, error.message)
        case Cancelled():
            print("Cancelled")


if __name__ == "__main__":
    with demo_client() as client:
        main(client)
