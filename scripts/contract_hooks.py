"""schemathesis hooks for scripts/contract (loaded through scripts/contract.toml).

- The runner protocol's event batches (`application/vnd.ferry.event-batch`) are written as
  the runner writes them: the head as one line of JSON, then each `lines` event's text.
- A few requests the document allows would wait or lock the run out; they are changed into
  other requests the document allows, never into invalid ones (so the checks that judge a
  request by how it was generated still hold):
  - a followed log waits for its run to complete, and no runner runs jobs here: `follow`
    becomes `false`;
  - a claim waits up to `wait_ms` for a job that does not come: at most 50 ms;
  - revoking the token (or the runner) schemathesis calls with would turn the rest into
    401s: the spare token (or runner) the script made is revoked instead.
"""

import json
import os

import schemathesis

ADMIN_TOKEN_ID = os.environ["FERRY_ADMIN_TOKEN_ID"]
SPARE_TOKEN_ID = os.environ["FERRY_SPARE_TOKEN_ID"]
RUNNER_ID = os.environ["FERRY_RUNNER_ID"]
SPARE_RUNNER_ID = os.environ["FERRY_SPARE_RUNNER_ID"]


@schemathesis.serializer("application/vnd.ferry.event-batch")
def event_batch(ctx, value):
    if isinstance(value, bytes):
        return value
    text = b""
    events = value.get("events") if isinstance(value, dict) else None
    for event in events if isinstance(events, list) else []:
        size = event.get("bytes") if isinstance(event, dict) and event.get("type") == "lines" else None
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 2 << 20:
            text += b"x" * (size - 1) + b"\n"
    return json.dumps(value).encode() + b"\n" + text


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    label = case.operation.label
    if label == "GET /api/v1/runs/{id}/logs" and isinstance(case.query, dict):
        if case.query.get("follow") in (True, "true"):
            case.query["follow"] = "false"
    elif label == "POST /api/v1/runner/claim" and isinstance(case.body, dict):
        wait_ms = case.body.get("wait_ms")
        if isinstance(wait_ms, (int, float)) and not isinstance(wait_ms, bool) and 50 < wait_ms <= 30_000:
            case.body["wait_ms"] = 50
    elif label == "DELETE /api/v1/tokens/{id}" and isinstance(case.path_parameters, dict):
        if str(case.path_parameters.get("id")) == ADMIN_TOKEN_ID:
            case.path_parameters["id"] = int(SPARE_TOKEN_ID)
    elif label == "DELETE /api/v1/runners/{id}" and isinstance(case.path_parameters, dict):
        if str(case.path_parameters.get("id")) == RUNNER_ID:
            case.path_parameters["id"] = int(SPARE_RUNNER_ID)
