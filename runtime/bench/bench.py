#!/usr/bin/env python3
"""Latency and peak memory per event: approvalc's ssm-callback Lambda vs the seed 000 Python
handler (boto3), both against the same local HTTP endpoint answering recorded AWS responses.

    python3 runtime/bench/bench.py --bootstrap PATH/TO/bootstrap --seed PATH/TO/000_*.txt \
        --python .tools/venv/bin/python [--events 200] [--runs 3]

* Rust: the real `bootstrap` from the Lambda zip runs against a local Lambda Runtime API
  served by this script (AWS_LAMBDA_RUNTIME_API) and the same server as AWS endpoint
  (AWS_ENDPOINT_URL). Latency per event = time from handing out the event on
  `/invocation/next` to receiving `/invocation/<id>/response`.
* Python: the seed's `AutomationResultReceivedByLambda` code, extracted from the seed text,
  is imported in a child interpreter and `lambda_handler(event, None)` is timed in-process.
* Cold = process start until the first event is answered (includes imports, client set-up,
  the seed's STS call). Peak memory = VmHWM of the process at the end.

Only 127.0.0.1 is used; every loop is bounded by --events and a timeout.
"""
import argparse
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
AUTOMATION_ID = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"
CID = "7d8c3f4e-9a1b-4c2d-8e5f-0a1b2c3d4e5f"
TOKEN = "AQCEAAAAKgAAAAMAAAAA" + "x" * 900
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:approvalc-ssm-callback"

STEP = {
    "StepName": "Approve",
    "Action": "aws:approve",
    "StepStatus": "Success",
    "Outputs": {
        "ApprovalStatus": ["Approved"],
        "ApproverDecisions": [json.dumps({
            "Approver": f"arn:aws:iam::{ACCOUNT}:user/bob",
            "Decision": "Approve",
            "ApprovalDecisionTime": "2026-11-25T11:59:00.000000Z",
            "Comment": "looks good",
        })],
    },
}
RECORDED = {
    "AmazonSSM.GetAutomationExecution": {"AutomationExecution": {
        "AutomationExecutionId": AUTOMATION_ID,
        "DocumentName": "approvalc-Approve",
        "AutomationExecutionStatus": "Success",
        # CorrelationId for approvalc, SfnToken for the seed (which keeps the token there).
        "Parameters": {"CorrelationId": [CID], "SfnToken": [TOKEN]},
        "StepExecutions": [STEP],
        "StepExecutionsTruncated": False,
    }},
    "AmazonSSM.DescribeAutomationStepExecutions": {"StepExecutions": [STEP]},
    "AWSStepFunctions.SendTaskSuccess": {},
    "AWSStepFunctions.SendTaskFailure": {},
    "DynamoDB_20120810.GetItem": {"Item": {
        "correlation_id": {"S": CID},
        "task_token": {"S": TOKEN},
        "kind": {"S": "ssm"},
        "automation_execution_id": {"S": AUTOMATION_ID},
        "run_id": {"S": "run-1"},
        "child_execution_arn": {"S": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:approvalc-ssm-approval:{CID}"},
        "requester": {"S": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        "distinct_approvers": {"BOOL": True},
        "requester_cannot_approve": {"BOOL": True},
        "prior_approvers": {"L": []},
    }},
    "DynamoDB_20120810.UpdateItem": {},
}
STS_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    f"<GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/bench</Arn>"
    f"<UserId>AIDABENCH</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)
EVENT = {
    "version": "0", "id": "d290ece9-1088-4383-9df6-cd5b4ac42b99",
    "detail-type": "EC2 Automation Execution Status-change Notification",
    "source": "aws.ssm", "account": ACCOUNT, "time": "2024-11-29T19:43:35Z",
    "region": "us-east-1", "resources": [],
    "detail": {"ExecutionId": AUTOMATION_ID, "Definition": "approvalc-Approve",
               "DefinitionVersion": 1.0, "Status": "Success",
               "StartTime": "Nov 29, 2024 7:43:20 PM", "EndTime": "Nov 29, 2024 7:43:26 PM",
               "Time": 5753.0, "ExecutedBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/child/s"},
}


class State:
    def __init__(self):
        self.events = queue.Queue()
        self.served = {}
        self.done = queue.Queue()
        self.aws_calls = {}
        self.lock = threading.Lock()


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY every reply waits
    # for the client's delayed ACK (~40 ms) and that would swamp both handlers' figures.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/x-amz-json-1.0", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            try:
                req_id = STATE.events.get(timeout=120)
            except queue.Empty:
                return self.reply(500, "{}")
            STATE.served[req_id] = time.perf_counter()
            return self.reply(200, json.dumps(EVENT), "application/json", [
                ("Lambda-Runtime-Aws-Request-Id", req_id),
                ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
                ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
            ])
        self.reply(404, "{}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        m = re.search(r"/runtime/invocation/([^/]+)/(response|error)$", self.path)
        if m:
            STATE.done.put((m.group(1), m.group(2), time.perf_counter(), body))
            return self.reply(202, "{}", "application/json")
        if "/runtime/init/error" in self.path:
            STATE.done.put(("init", "error", time.perf_counter(), body))
            return self.reply(202, "{}", "application/json")
        target = self.headers.get("X-Amz-Target", "")
        with STATE.lock:
            STATE.aws_calls[target or "sts"] = STATE.aws_calls.get(target or "sts", 0) + 1
        if target in RECORDED:
            return self.reply(200, json.dumps(RECORDED[target]))
        if b"GetCallerIdentity" in body:
            return self.reply(200, STS_IDENTITY, "text/xml")
        self.reply(400, json.dumps({"__type": "UnknownOperationException", "message": target}))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients closing keep-alive connections at exit


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def aws_env(port):
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    })
    env.pop("RUST_LOG", None)
    return env


def run_rust(bootstrap, port, events):
    env = aws_env(port)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "approvalc-ssm-callback",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "APPROVALC_TOKEN_TABLE": "approvalc-tokens",
    })
    start = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latencies, cold = [], None
    try:
        for i in range(events):
            req_id = f"req-{i}"
            STATE.events.put(req_id)
            rid, kind, t_done, body = STATE.done.get(timeout=60)
            if kind != "response" or b'"decided"' not in body:
                raise SystemExit(f"rust handler answered {kind}: {body[:300]!r}")
            if i == 0:
                cold = t_done - start
            latencies.append(t_done - STATE.served[rid])
        hwm = vm_hwm_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"cold_s": cold, "latencies_s": latencies, "peak_rss_kib": hwm}


PY_DRIVER = r"""
import json, resource, sys, time, io, contextlib
t0 = time.perf_counter()
src, events = sys.argv[1], int(sys.argv[2])
event = json.loads(sys.argv[3])
ns = {}
with contextlib.redirect_stdout(io.StringIO()):
    exec(compile(open(src).read(), "seed000_handler", "exec"), ns)
lat, cold = [], None
sink = io.StringIO()
for i in range(events):
    sink.seek(0); sink.truncate()
    t = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        out = ns["lambda_handler"](event, None)
    lat.append(time.perf_counter() - t)
    if out != {"is_approved": True}:
        raise SystemExit(f"seed answered {out}")
    if i == 0:
        cold = time.perf_counter() - t0
hwm = -1
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print(json.dumps({"cold_in_process_s": cold, "latencies_s": lat, "peak_rss_kib": hwm}))
"""


def seed_handler_source(seed_path):
    text = open(seed_path, encoding="utf-8").read()
    block = text.index("LambdaForReceivingAutomationResult:")
    start = text.index("ZipFile: |", block) + len("ZipFile: |\n")
    end = text.index("AutomationResultReceivedByLambdaRole:", start)
    lines = text[start:end].splitlines()
    indent = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return "\n".join(l[indent:] for l in lines).strip() + "\n"


def run_python(python, seed_path, port, events):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "seed000_handler.py")
        with open(src, "w") as f:
            f.write(seed_handler_source(seed_path))
        start = time.perf_counter()
        out = subprocess.run([python, "-c", PY_DRIVER, src, str(events), json.dumps(EVENT)],
                             env=aws_env(port), capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"python driver failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # Cold from process start: interpreter start-up + imports + first event.
    res["cold_s"] = wall - sum(res["latencies_s"][1:])
    return res


def summary(latencies):
    warm = sorted(latencies[1:]) or latencies
    pct = lambda p: warm[min(len(warm) - 1, int(p * len(warm)))]
    return {"first_ms": latencies[0] * 1e3, "median_ms": statistics.median(warm) * 1e3,
            "p95_ms": pct(0.95) * 1e3, "mean_ms": statistics.mean(warm) * 1e3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results = {"rust": [], "python": []}
    try:
        for _ in range(args.runs):
            for name, fn in (("rust", lambda: run_rust(args.bootstrap, port, args.events)),
                             ("python", lambda: run_python(args.python, args.seed, port, args.events))):
                STATE.aws_calls.clear()
                r = fn()
                r["aws_calls"] = dict(STATE.aws_calls)
                results[name].append(r)
    finally:
        server.shutdown()
    report = {}
    for name, runs in results.items():
        report[name] = {
            "cold_s": statistics.median(r["cold_s"] for r in runs),
            "peak_rss_mib": statistics.median(r["peak_rss_kib"] for r in runs) / 1024,
            "aws_calls_per_event": {k: v / args.events for k, v in runs[0]["aws_calls"].items()},
            **{k: statistics.median(summary(r["latencies_s"])[k] for r in runs)
               for k in ("first_ms", "median_ms", "p95_ms", "mean_ms")},
        }
    report["events_per_run"] = args.events
    report["runs"] = args.runs
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
