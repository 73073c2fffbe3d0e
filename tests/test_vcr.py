"""Cassettes are scrubbed before they are written and stay readable."""

from __future__ import annotations

from vcr.request import Request

from yc_responses.testing import vcr as yc_vcr

FOLDER = "b1gabcdefghijklmnopq"


def test_requests_lose_credentials_and_folders() -> None:
    request = Request(
        "POST",
        "http://127.0.0.1:5555/v1/responses",
        f'{{"model": "gpt://{FOLDER}/yandexgpt/latest", "input": "hi"}}',
        {"Authorization": "Bearer AQVNsecretsecretsecret", "OpenAI-Project": FOLDER},
    )

    scrubbed = yc_vcr.scrub_request(request)

    assert "Authorization" not in scrubbed.headers
    assert scrubbed.headers["OpenAI-Project"] == "<folder>"
    assert scrubbed.uri == "http://emulator/v1/responses"
    assert FOLDER not in scrubbed.body.decode()
    assert "gpt://<folder>/yandexgpt/latest" in scrubbed.body.decode()


def test_explicit_folders_and_secret_shapes_are_found_and_scrubbed() -> None:
    text = "key AQVN1234567890abcd token t1.abcdefghijklmnopqrstuvwxyz folder my-folder"

    assert len(yc_vcr.find_secrets(text, ["my-folder"])) == 3
    assert yc_vcr.find_secrets(yc_vcr.scrub_text(text, ["my-folder"]), ["my-folder"]) == []


def test_serializer_stores_json_decoded_and_round_trips() -> None:
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "u", "body": '{"a": [1, 2]}', "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-length": ["12"], "content-type": ["application/json"]},
                    "body": {"string": '{"ok": true}'},
                },
            }
        ],
        "metadata": {"recorded": {"against": "the emulator", "at": "today"}},
    }

    text = yc_vcr.serialize(cassette)
    back = yc_vcr.deserialize(text)

    assert text.startswith("# Recorded against the emulator on today")
    assert "a: [1, 2]" in text
    assert back["interactions"][0]["response"]["body"]["string"] == '{"ok":true}'
    assert back["interactions"][0]["response"]["headers"] == {"content-type": ["application/json"]}
    assert "recorded" not in back
