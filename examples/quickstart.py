"""Quickstart: one plain request with YandexOpenAI.

Run with YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID set to talk to Yandex AI Studio.
"""

from __future__ import annotations

from yc_responses import YandexOpenAI


def main() -> None:
    client = YandexOpenAI()
    response = client.responses.create(model="yandexgpt", input="Write a haiku about the Volga.")
    print(response.output_text)


if __name__ == "__main__":
    main()
