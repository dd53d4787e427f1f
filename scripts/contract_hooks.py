"""schemathesis hooks for scripts/contract (loaded through scripts/contract.toml).

- The runner protocol's event batches (`application/vnd.ferry.event-batch`) are written as
  the runner writes them: the head as one line of JSON, then each `lines` event's text; the
  metrics import's OpenMetrics text (`application/openmetrics-text`) as the string it is, and
  remote write's body (`application/x-protobuf`) as the bytes it is.
- A few requests the document allows would wait or lock the run out; they are changed into
  other requests the document allows, never into invalid ones (so the checks that judge a
  request by how it was generated still hold):
  - a followed log waits for its run to complete, and no runner runs jobs here: `follow`
    becomes `false`;
  - a claim waits up to `wait_ms` for a job that does not come, and a service's log read for
    a line that does not come: at most 50 ms;
  - revoking the token (or the runner) schemathesis calls with would turn the rest into
    401s: the spare token (or runner) the script made is revoked instead, and registering
    its runner's name again (which replaces the runner's token) registers another name.
- The runner protocol's job routes (`/api/v1/runner/jobs/{id}/…`) answer 409 for a job the
  runner does not hold, so a well-formed job id is replaced by one of a job the script's
  runner holds: claimed here (after triggering a run when none is queued) and claimed again
  once a request completed it or the run was cancelled. A malformed id is left as it is.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import schemathesis

ADMIN_TOKEN_ID = os.environ["FERRY_ADMIN_TOKEN_ID"]
SPARE_TOKEN_ID = os.environ["FERRY_SPARE_TOKEN_ID"]
RUNNER_ID = os.environ["FERRY_RUNNER_ID"]
SPARE_RUNNER_ID = os.environ["FERRY_SPARE_RUNNER_ID"]
BASE = os.environ["FERRY_BASE"]
ADMIN_TOKEN = os.environ["FERRY_ADMIN_TOKEN"]
RUNNER_TOKEN = os.environ["FERRY_RUNNER_TOKEN"]
PROJECT = os.environ["FERRY_PROJECT"]
RUNNER_NAME = "contract-runner"
MAX_ID = (1 << 63) - 1

# The job the script's runner holds, if any, and whether getting none was said.
held = None
unheld = False


def call(path, token, body):
    """POSTs `body` as JSON; the status and the parsed answer (None when empty)."""
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, None


def held_job():
    """The id of a job the script's runner holds: the last one while its heartbeat is
    answered, else a new claim (triggering a run first when no job is queued); None (the
    request keeps its id, and gets 409) when none can be had, which is said once."""
    global held, unheld
    if held is not None and call(f"/api/v1/runner/jobs/{held}/heartbeat", RUNNER_TOKEN, {})[0] == 200:
        return held
    held = None
    statuses = []
    for wait_ms in (0, 5_000):
        status, job = call("/api/v1/runner/claim", RUNNER_TOKEN, {"wait_ms": wait_ms})
        statuses.append(status)
        if status == 200:
            held = job["job_id"]
            return held
        status, _ = call(f"/api/v1/projects/{PROJECT}/trigger", ADMIN_TOKEN, {})
        statuses.append(status)
    if not unheld:
        unheld = True
        print(f"contract_hooks: the runner holds no job (claims and triggers answered {statuses})", file=sys.stderr)
    return None


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


@schemathesis.serializer("application/openmetrics-text")
def openmetrics(ctx, value):
    # The metrics import takes OpenMetrics text: the document describes it as a string.
    if isinstance(value, bytes):
        return value
    return str(value).encode()


@schemathesis.serializer("application/x-protobuf")
def protobuf(ctx, value):
    # Remote write's body is bytes (a snappy-compressed protobuf): the document describes it
    # as a binary string, sent as it is.
    if isinstance(value, bytes):
        return value
    return str(value).encode()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    label = case.operation.label
    if label.split(" ", 1)[1].startswith("/api/v1/runner/jobs/{id}/") and isinstance(case.path_parameters, dict):
        job_id = case.path_parameters.get("id")
        if isinstance(job_id, int) and not isinstance(job_id, bool) and 1 <= job_id <= MAX_ID:
            job_id = held_job()
            if job_id is not None:
                case.path_parameters["id"] = job_id
    elif label == "POST /api/v1/runners" and isinstance(case.body, dict):
        # Registering the script's runner's name again would replace its token.
        if case.body.get("name") == RUNNER_NAME:
            case.body["name"] = RUNNER_NAME + "-2"
    elif label == "GET /api/v1/runs/{id}/logs" and isinstance(case.query, dict):
        if case.query.get("follow") in (True, "true"):
            case.query["follow"] = "false"
    elif label == "GET /api/v1/projects/{name}/services/{service}/{environment}/logs" and isinstance(case.query, dict):
        # A read holds up to `wait_ms` for a line no service writes here: at most 50 ms.
        wait_ms = case.query.get("wait_ms")
        if isinstance(wait_ms, str) and wait_ms.isdigit():
            wait_ms = int(wait_ms)
        if isinstance(wait_ms, (int, float)) and not isinstance(wait_ms, bool) and 50 < wait_ms <= 30_000:
            case.query["wait_ms"] = 50
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
