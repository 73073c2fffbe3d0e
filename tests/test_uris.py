from __future__ import annotations

import pytest

from yc_responses import ModelURI, model_uri, parse_model_uri


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("yandexgpt", "gpt://b1gfolder/yandexgpt/latest"),
        ("yandexgpt/rc", "gpt://b1gfolder/yandexgpt/rc"),
        ("yandexgpt-lite/deprecated", "gpt://b1gfolder/yandexgpt-lite/deprecated"),
        ("qwen3-235b-a22b-fp8/latest", "gpt://b1gfolder/qwen3-235b-a22b-fp8/latest"),
        ("gpt-oss-120b", "gpt://b1gfolder/gpt-oss-120b/latest"),
        ("yandexgpt-lite/latest@tamr3x", "gpt://b1gfolder/yandexgpt-lite/latest@tamr3x"),
        ("text-search-doc", "emb://b1gfolder/text-search-doc/latest"),
        ("text-search-query/rc", "emb://b1gfolder/text-search-query/rc"),
    ],
)
def test_short_names_expand_with_the_folder(name: str, expected: str) -> None:
    assert model_uri(name, "b1gfolder") == expected


@pytest.mark.parametrize(
    "uri",
    [
        "gpt://otherfolder/yandexgpt/latest",
        "gpt://otherfolder/yandexgpt",
        "gpt://otherfolder/yandexgpt-lite/latest@tun3d",
        "emb://otherfolder/text-search-doc/latest",
        "ds://fds0dataset1",
        "art://otherfolder/yandex-art/latest",
    ],
)
def test_full_uris_pass_unchanged(uri: str) -> None:
    assert model_uri(uri, "b1gfolder") == uri


def test_the_endpoint_decides_the_scheme_of_a_short_name() -> None:
    assert model_uri("my-embedder", "f", kind="emb") == "emb://f/my-embedder/latest"
    assert model_uri("text-search-doc", "f", kind="gpt") == "gpt://f/text-search-doc/latest"


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "yandex gpt",
        "/yandexgpt",
        "yandexgpt/",
        "yandexgpt/rc/extra",
        "gpt://",
        "gpt://folder",
        "gpt:///yandexgpt",
        "gpt://folder/yandexgpt/latest/extra",
        "gpt:/folder/yandexgpt",
        "ds://",
        "yandexgpt@",
    ],
)
def test_malformed_names_raise_and_list_the_accepted_forms(name: str) -> None:
    with pytest.raises(ValueError, match=r"malformed model name") as caught:
        model_uri(name, "b1gfolder")
    message = str(caught.value)
    assert "gpt://<folder>/<model>" in message
    assert "'yandexgpt/rc'" in message


def test_a_non_string_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="malformed model name 42"):
        model_uri(42, "f")  # type: ignore[arg-type]


def test_parse_model_uri_reads_every_part() -> None:
    parsed = parse_model_uri("gpt://b1g/yandexgpt-lite/rc@suffix1")
    assert parsed == ModelURI(
        scheme="gpt", folder_id="b1g", name="yandexgpt-lite", version="rc", suffix="suffix1"
    )
    assert str(parsed) == "gpt://b1g/yandexgpt-lite/rc@suffix1"
    assert parse_model_uri("emb://b1g/text-search-doc").version == "latest"
    with pytest.raises(ValueError, match="malformed"):
        parse_model_uri("yandexgpt")
