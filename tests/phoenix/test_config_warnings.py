"""The Phoenix warnings of `config check` are true: each config it warns about is refused by a
live Phoenix as written, and what push sends instead (`phoenix_body`) is accepted."""

from __future__ import annotations

import uuid

import pytest
import yaml

from annotator.config import parse_config, phoenix_warnings
from annotator.phoenix import Rejected
from annotator.phoenix.connection import PhoenixClient
from tests.test_config_phoenix_warnings import HAND_WRITTEN


def _post(client: PhoenixClient, body: dict) -> dict:
    return client.request("POST", "/v1/annotation_configs", json=body, what="config")["data"]


def test_what_config_check_warns_about_phoenix_refuses_and_what_push_sends_it_takes(
    phoenix: PhoenixClient,
) -> None:
    configs = parse_config(HAND_WRITTEN, "c.yaml")
    warned = {w.message.split("'")[1] for w in phoenix_warnings(HAND_WRITTEN, "c.yaml", configs)}
    assert warned == {"helpful", "quality", "remark", "ok"}
    written = yaml.safe_load(HAND_WRITTEN)["annotations"]  # what a user would copy into a POST
    salt = uuid.uuid4().hex[:8]
    for as_written, config in zip(written, configs.annotations, strict=True):
        name = f"{config.name}-{salt}"
        with pytest.raises(Rejected) as refused:
            _post(phoenix, {**as_written, "name": name})
        assert refused.value.status == 422, config.name
        accepted = _post(phoenix, {**config.phoenix_body(), "name": name})
        assert accepted["name"] == name
        assert accepted["type"] == config.type.value


def test_a_config_in_phoenix_form_is_taken_as_written(phoenix: PhoenixClient) -> None:
    text = "- {name: a, type: CATEGORICAL, optimization_direction: NONE, values: [{label: x}]}\n"
    assert phoenix_warnings(text, "c.yaml", parse_config(text, "c.yaml")) == []
    body = {**yaml.safe_load(text)[0], "name": f"a-{uuid.uuid4().hex[:8]}"}
    assert _post(phoenix, body)["values"] == [{"label": "x", "score": None}]
