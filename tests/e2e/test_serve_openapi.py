"""The prediction server's OpenAPI document: each deployment's predict path with the request
body its parser validates, kept current across hot changes, and property-based API tests
(schemathesis, in-process over ASGI) that every generated request gets no 5xx and an answer
that conforms to the document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcai.demo import digits_frame
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import ok

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from dcai.serve.app import create_app  # noqa: E402
from dcai.store import Stores  # noqa: E402

FEATURES = [c for c in digits_frame().columns if c != "label"]
SMALL = FEATURES[:8]
PREDICT = "/v1/deployments/web/predict"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import dcai

    root = tmp_path_factory.mktemp("serve-openapi") / "ws"
    frame = digits_frame().head(300)
    with dcai.Workspace(root) as workspace:  # the library: the CLI is tested elsewhere
        for name, data in (("digits", frame), ("small", frame[[*SMALL, "label"]])):
            workspace.data.add(name, data, label="label")
            workspace.data.split(name, dev=0.2, test=0.0, seed=0)
            run = workspace.runs.train(name, n_boot=0, capture_code=False).run
            workspace.models.register(run, name=name)
        workspace.deployments.create("web", model="digits/1")
    return root


@pytest.fixture()
def client(ws: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("DCAI_ADMIN_TOKEN", "DCAI_SERVE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    app = create_app(Stores.open(ws, create=False), poll_interval=0.05)
    with asgi.get_client(app) as session:
        yield session


def _body_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def _instance_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    shapes = _body_schema(document, path)["oneOf"]
    instances = next(s for s in shapes if "instances" in s["properties"])
    items: dict[str, Any] = instances["properties"]["instances"]["items"]
    return items


def test_openapi_lists_each_deployment_with_its_features(client: Any) -> None:
    document = client.get("/openapi.json").json()
    assert "/v1/deployments/{name}/predict" not in document["paths"]
    instance = _instance_schema(document, PREDICT)
    assert list(instance["properties"]) == FEATURES
    assert instance["required"] == FEATURES
    assert instance["additionalProperties"] is False
    types = {f: [t["type"] for t in p["anyOf"]] for f, p in instance["properties"].items()}
    assert set(map(tuple, types.values())) == {("integer", "null")}
    shapes = _body_schema(document, PREDICT)["oneOf"]
    assert [next(iter(s["required"])) for s in shapes] == [
        "instances",
        "dataframe_split",
        "dataframe_records",
    ]
    assert shapes[0]["properties"]["key"]["anyOf"][0] == {"type": "string"}
    answer = document["paths"][PREDICT]["post"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert set(answer["required"]) >= {"request_id", "revision", "model_version", "predictions"}
    prediction = answer["properties"]["predictions"]["items"]
    assert set(prediction["properties"]) == {"label", "confidence", "probabilities", "needs_review"}
    # /invocations answers for the only deployment: the same body.
    assert _body_schema(document, "/invocations") == _body_schema(document, PREDICT)
    # The schema shown is the one enforced: a string for an integer feature is refused, naming it.
    row: dict[str, Any] = dict.fromkeys(FEATURES, 0)
    assert client.post(PREDICT, json={"instances": [row]}).status_code == 200
    refused = client.post(PREDICT, json={"instances": [{**row, "px03": "3"}]})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "instances", 0, "px03"]
    # The generic route still answers (routing is unchanged).
    assert client.post("/v1/deployments/web/predict", json={"instances": [row]}).status_code == 200


def _run(
    operation: Any,
    mode: Any,
    checks: list[Any],
    headers: dict[str, str] | None,
    max_examples: int,
) -> int:
    """Generated requests for one operation (seeded: the same examples every run)."""
    calls = [0]

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        calls[0] += 1
        case.call_and_validate(checks=checks, headers=headers)

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no body; any string is a valid path
        # name): there is no negative example to send.
        if mode is not schemathesis.GenerationMode.NEGATIVE:
            raise
    return calls[0]


def _fuzz(
    app: Any,
    *,
    max_examples: int,
    headers: dict[str, str] | None = None,
    negative: bool = True,
) -> int:
    """Every operation of ``app``'s schema, positive then negative examples; returns the calls."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    modes = [schemathesis.GenerationMode.POSITIVE]
    if negative:
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    calls = [0]
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            # negative_data_rejection only makes sense for examples that break the schema.
            checks = [
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ]
            if mode is schemathesis.GenerationMode.NEGATIVE:
                checks.append(negative_data_rejection)

            calls[0] += _run(operation, mode, checks, headers, max_examples)
    return calls[0]


def test_property_based_api_without_tokens(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No 5xx, documented status codes and bodies, invalid bodies refused; admin routes answer
    403 (no admin token configured) — documented, so they are fuzzed as well."""
    for var in ("DCAI_ADMIN_TOKEN", "DCAI_SERVE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    app = create_app(Stores.open(ws, create=False), poll_interval=0.05)
    assert _fuzz(app, max_examples=8) > 80


def test_property_based_api_with_tokens(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With tokens set: admin changes go through the same workflow (random names and models are
    refused with 404/422, never 5xx); without the bearer header, predict answers 401."""
    monkeypatch.setenv("DCAI_ADMIN_TOKEN", "adm1n")
    monkeypatch.setenv("DCAI_SERVE_TOKEN", "s3rve")
    app = create_app(Stores.open(ws, create=False), poll_interval=0.05)
    assert _fuzz(app, max_examples=5, headers={"Authorization": "Bearer adm1n"}) > 50
    assert _fuzz(app, max_examples=2, negative=False) > 10


def test_openapi_follows_a_hot_change(ws: Path, client: Any) -> None:
    before = client.get("/openapi.json").json()
    assert list(_instance_schema(before, PREDICT)["properties"]) == FEATURES
    ok(run_dcai("deploy", "canary", "web", "--model", "small/1", "--percent", "10", workspace=ws))
    ok(run_dcai("deploy", "promote", "web", workspace=ws))
    deadline = time.monotonic() + 10
    while True:
        after = client.get("/openapi.json").json()
        if list(_instance_schema(after, PREDICT)["properties"]) == SMALL:
            break
        assert time.monotonic() < deadline, "the OpenAPI document did not follow the change"
        time.sleep(0.05)
    assert "small/1" in after["paths"][PREDICT]["post"]["description"]
    row = dict.fromkeys(SMALL, 1)
    assert client.post(PREDICT, json={"instances": [row]}).status_code == 200
    assert client.post(PREDICT, json={"instances": [dict.fromkeys(FEATURES, 1)]}).status_code == 422


def test_a_non_finite_probability_is_a_model_failure(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NaN is not JSON: a model answering it fails the request (500 naming the model), as a
    model that raises does, instead of the server failing to encode its answer."""
    from dcai.deploy._models import LoadedModel

    def nan_predict(self: LoadedModel, frame: Any) -> Any:
        import numpy as np

        return np.full((len(frame), len(self.classes)), np.nan)

    features = list(_instance_schema(client.get("/openapi.json").json(), PREDICT)["properties"])
    monkeypatch.setattr(LoadedModel, "predict", nan_predict)
    answer = client.post(PREDICT, json={"instances": [dict.fromkeys(features, 1)]})
    assert answer.status_code == 500, answer.text
    detail = answer.json()["detail"]
    assert "failed: ValueError" in detail and "error log" in detail, detail
    monkeypatch.undo()
    assert client.post(PREDICT, json={"instances": [dict.fromkeys(features, 1)]}).status_code == 200
