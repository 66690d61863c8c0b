#!/usr/bin/env python3
"""Latency, CPU and peak memory per event, and cold start: approvalc's packaged ssm-callback
Lambda vs the seed 000 Python callback handler (boto3), both run the same way.

    scripts/install-tools.sh --no-validators      # .tools/venv with boto3 (via moto)
    scripts/package-lambdas.sh --arch x86_64      # dist/lambda/x86_64/*.zip
    python3 runtime/bench/bench.py [--events 200] [--runs 3] [--json OUT]

Defaults: --zip dist/lambda/x86_64/approvalc-ssm-callback.zip (its `bootstrap` is extracted
and run as is), --seed ../shared/seeds/000_*.txt (the seed's `AutomationResultReceivedByLambda`
code is extracted from the seed text at run time), --python .tools/venv/bin/python.

How (see docs/bench-runtime.md):
* One local HTTP server (127.0.0.1 only) is both the Lambda Runtime API
  (AWS_LAMBDA_RUNTIME_API) and the AWS endpoint (AWS_ENDPOINT_URL), answering every AWS call
  with the same recorded response whichever handler asks. `--server rust` (default): the
  replay server runtime/examples/bench_endpoint.rs (built here with `cargo build --release
  -p approvalc-runtime --example bench_endpoint`, or `--endpoint-bin`), fed the event and the
  recorded answers on stdin, reporting each answer with its timestamps on stdout;
  `--server-threads N` gives it N tokio workers (1 = single-threaded, the default).
  `--server python`: the earlier server in this script (http.server, one thread per
  connection), kept to compare.
* Rust: the `bootstrap` process. Python: a child interpreter running a minimal Lambda runtime
  loop (GET next → lambda_handler(event, ctx) → POST response, as the Python runtime does)
  around the seed's code. stdout/stderr of both go to /dev/null.
* Latency per event = event handed out on `/invocation/next` → `/invocation/<id>/response`
  received, both timestamps taken by the server on CLOCK_MONOTONIC (time.perf_counter's).
  Cold = process exec → first response (interpreter/imports or binary start, client set-up,
  the seed's STS call, first event). Peak memory = VmHWM of the process after the last event.
  CPU = utime+stime of the process over the warm events (clock ticks), and the same from
  /proc/<pid>/task/*/schedstat (nanoseconds), with voluntary context switches per event.

* The other three zips next to --zip (codepipeline-callback, cleanup, reconciler) are each
  started once with one event that goes through real AWS calls, for their cold start, peak
  memory and a correct answer (--no-others skips this).

Every loop is bounded by --events and timeouts; nothing leaves 127.0.0.1.
"""
import argparse
import glob
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
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACCOUNT = "123456789012"
AUTOMATION_ID = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"
CID = "7d8c3f4e-9a1b-4c2d-8e5f-0a1b2c3d4e5f"
TOKEN = "AQCEAAAAKgAAAAMAAAAA" + "x" * 900
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:approvalc-ssm-callback"
CLK_TCK = os.sysconf("SC_CLK_TCK")

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
# Recorded answers, keyed by X-Amz-Target. Both handlers get the same bytes for the same call.
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
    # For the other three binaries' start-up check (`--others`).
    "DynamoDB_20120810.Scan": {"Items": [], "Count": 0, "ScannedCount": 0},
    "CodePipeline_20150709.GetPipelineExecution": {"pipelineExecution": {
        "pipelineName": "approvalc-deploy-prod", "pipelineVersion": 1,
        "pipelineExecutionId": "01234567-0123-0123-0123-012345678901", "status": "InProgress",
        "variables": [{"name": "correlation_id", "resolvedValue": CID}]}},
}
RECORDED_BYTES = {k: json.dumps(v).encode() for k, v in RECORDED.items()}
STS_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    f"<GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/bench</Arn>"
    f"<UserId>AIDABENCH</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)
# The documented "EC2 Automation Execution Status-change Notification" example
# (runtime/tests/fixtures/ssm-execution-success.json).
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
EVENT_BYTES = json.dumps(EVENT).encode()


class State:
    """One run's view of the server. Each handler process gets its own server (and port):
    a process killed after its last answer leaves a `next` long-poll behind, which must not
    steal the following run's first event."""

    def __init__(self):
        self.events = queue.Queue()
        self.served = {}
        self.done = queue.Queue()
        self.aws_calls = {}
        # Seconds this server spent answering AWS calls (request read → reply written): the
        # endpoint's own cost inside each handler's latency.
        self.aws_busy_s = 0.0
        self.lock = threading.Lock()


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
                req_id = self.server.state.events.get(timeout=300)
            except queue.Empty:
                return self.reply(500, "{}")
            self.server.state.served[req_id] = time.perf_counter()
            return self.reply(200, self.server.event, "application/json", [
                ("Lambda-Runtime-Aws-Request-Id", req_id),
                ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
                ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
            ])
        self.reply(404, "{}")

    def do_POST(self):
        t0 = time.perf_counter()
        self.answer_post()
        if not self.path.startswith("/2018-06-01/"):
            with self.server.state.lock:
                self.server.state.aws_busy_s += time.perf_counter() - t0

    def answer_post(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        state = self.server.state
        m = re.search(r"/runtime/invocation/([^/]+)/(response|error)$", self.path)
        if m:
            state.done.put((m.group(1), m.group(2), time.perf_counter(), body))
            return self.reply(202, "{}", "application/json")
        if "/runtime/init/error" in self.path:
            state.done.put(("init", "error", time.perf_counter(), body))
            return self.reply(202, "{}", "application/json")
        target = self.headers.get("X-Amz-Target", "") or (
            "sts" if b"GetCallerIdentity" in body else "?")
        with state.lock:
            state.aws_calls[target] = state.aws_calls.get(target, 0) + 1
        if target in RECORDED_BYTES:
            return self.reply(200, RECORDED_BYTES[target])
        if target == "sts":
            return self.reply(200, STS_IDENTITY, "text/xml")
        self.reply(400, json.dumps({"__type": "UnknownOperationException", "message": target}))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, event=EVENT_BYTES):
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()
        self.event = event

    def handle_error(self, request, client_address):
        pass  # clients closing keep-alive connections at exit


class PythonEndpoint:
    """The earlier harness server (`--server python`): Server above, on a thread of this
    process."""

    def __init__(self, event):
        self.server = Server(event)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def enqueue(self, req_id):
        self.server.state.events.put(req_id)

    def next_done(self, timeout):
        """(request id, response|error, t_done, body bytes, t_served or None); raises
        queue.Empty after `timeout` seconds."""
        rid, kind, t_done, body = self.server.state.done.get(timeout=timeout)
        return rid, kind, t_done, body, self.server.state.served.get(rid)

    def close(self):
        """(AWS calls by target, seconds spent answering them)."""
        self.server.shutdown()
        self.server.server_close()
        state = self.server.state
        return dict(state.aws_calls), state.aws_busy_s


class RustEndpoint:
    """runtime/examples/bench_endpoint.rs as a child process: config and request ids on its
    stdin, `port`/`done`/`stats` JSON lines on its stdout (read by a thread into a queue)."""

    def __init__(self, exe, threads, event):
        self.proc = subprocess.Popen([exe, "--threads", str(threads)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        config = {"event": event.decode("utf-8"),
                  "recorded": {k: v.decode("utf-8") for k, v in RECORDED_BYTES.items()},
                  "sts": STS_IDENTITY, "function_arn": FUNCTION_ARN}
        self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        self.port = self._expect("port", 30)
        if ENDPOINT["pin"]:
            os.sched_setaffinity(self.proc.pid, PINS[ENDPOINT["pin"]][0])

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def _expect(self, key, timeout):
        msg = self.lines.get(timeout=timeout)
        if msg is None or key not in msg:
            raise SystemExit(f"bench_endpoint: expected {key!r}, got {msg!r} "
                             f"(exit code {self.proc.poll()})")
        return msg[key]

    def enqueue(self, req_id):
        self.proc.stdin.write(req_id + "\n")
        self.proc.stdin.flush()

    def next_done(self, timeout):
        d = self._expect("done", timeout)
        served = d["served_ns"] / 1e9 if d["served_ns"] is not None else None
        return d["id"], d["kind"], d["done_ns"] / 1e9, d["body"].encode("utf-8"), served

    def close(self):
        self.proc.stdin.close()
        try:
            stats = self._expect("stats", 30)
        finally:
            self.proc.wait(timeout=30)
        return stats["aws_calls"], stats["aws_busy_ns"] / 1e9


def build_endpoint():
    """Build the replay server (release profile; examples link the crate's dev-dependencies,
    so the first build compiles those too) and return the path of its executable."""
    cmd = ["cargo", "build", "--release", "-p", "approvalc-runtime", "--example",
           "bench_endpoint", "--message-format=json-render-diagnostics"]
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit code {out.returncode})")
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if (msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "bench_endpoint"
                and msg.get("executable")):
            return msg["executable"]
    raise SystemExit("cargo built no bench_endpoint executable")


# Which server `drive` starts for each handler process: set once by main(). `pin` (an
# experiment, off by default): CPUs for the server and the handler process, to show what
# sharing one core vs having one each does to the figures.
ENDPOINT = {"kind": "python", "exe": None, "threads": 1, "pin": None}
PINS = {"same": ({0}, {0}), "split": ({0}, {1})}


def new_endpoint(event):
    if ENDPOINT["kind"] == "rust":
        return RustEndpoint(ENDPOINT["exe"], ENDPOINT["threads"], event)
    return PythonEndpoint(event)


# A minimal Lambda runtime loop for the seed's handler, doing what the managed Python runtime
# does between events: long-poll `next`, call the handler, post the result as JSON.
PY_RUNTIME = r"""
import http.client, json, os, sys
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
src = sys.argv[1]
ns = {"__name__": "seed000_handler"}
exec(compile(open(src).read(), src, "exec"), ns)
handler = ns["lambda_handler"]
conn = http.client.HTTPConnection(api)
base = "/2018-06-01/runtime/invocation/"
while True:
    conn.request("GET", base + "next")
    r = conn.getresponse()
    event = json.loads(r.read())
    req_id = r.getheader("Lambda-Runtime-Aws-Request-Id")
    try:
        body, kind = json.dumps(handler(event, None)), "response"
    except Exception as e:
        body, kind = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__}), "error"
    conn.request("POST", base + req_id + "/" + kind, body=body,
                 headers={"Content-Type": "application/json"})
    conn.getresponse().read()
"""


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime are fields 14 and 15 of stat; after the ")" split they are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sched_counters(pid):
    """(ns on CPU, voluntary context switches) summed over the process's threads:
    /proc/<pid>/task/*/schedstat is in nanoseconds, where utime+stime counts whole clock
    ticks (10 ms here, a coarse step against well under a millisecond per event)."""
    ns, switches = 0, 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            ns += int(f.read().split()[0])
        switches += proc_status_kib(f"{pid}/task/{task}", "voluntary_ctxt_switches")
    return ns, switches


def base_env(port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RUST_LOG"))}
    env.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "approvalc-ssm-callback",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "APPROVALC_TOKEN_TABLE": "approvalc-tokens",
    })
    return env


def drive(argv, events, accept, extra_env=(), event=EVENT_BYTES):
    """Start one handler process against a fresh server, feed it `events` events; figures
    for that process."""
    endpoint = new_endpoint(event)
    try:
        result = drive_on(endpoint, argv, events, accept, extra_env)
    finally:
        aws_calls, aws_busy_s = endpoint.close()
    result["aws_calls"] = aws_calls
    result["endpoint_ms_per_event"] = aws_busy_s * 1e3 / events
    return result


def drive_on(endpoint, argv, events, accept, extra_env):
    env = base_env(endpoint.port)
    env.update(extra_env)
    start = time.perf_counter()
    pin = PINS[ENDPOINT["pin"]][1] if ENDPOINT["pin"] else None
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None)
    latencies, cold, cpu_after_first, sched_after_first = [], None, 0.0, (0, 0)
    try:
        for i in range(events):
            req_id = f"req-{i}"
            endpoint.enqueue(req_id)
            try:
                rid, kind, t_done, body, t_served = endpoint.next_done(timeout=120)
            except queue.Empty:
                raise SystemExit(f"{argv[0]}: no answer within 120 s (exit code {proc.poll()})")
            if kind != "response" or not accept(body):
                raise SystemExit(f"{argv[0]} answered {kind}: {body[:300]!r}")
            last_body = body
            if i == 0:
                cold = t_done - start
                cpu_after_first = cpu_seconds(proc.pid)
                sched_after_first = sched_counters(proc.pid)
            latencies.append(t_done - t_served)
        cpu_warm = cpu_seconds(proc.pid) - cpu_after_first
        sched_ns, switches = (b - a for a, b in zip(sched_after_first, sched_counters(proc.pid)))
        hwm = proc_status_kib(proc.pid, "VmHWM")
        # What the resident set is at the end: private heap/stacks vs mapped file pages
        # (the binary's text, libpython, .so files), which the kernel can drop and share.
        rss_split = {k: proc_status_kib(proc.pid, k) for k in ("RssAnon", "RssFile")}
        threads = proc_status_kib(proc.pid, "Threads")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"cold_s": cold, "latencies_s": latencies, "peak_rss_kib": hwm,
            "rss_anon_kib": rss_split["RssAnon"], "rss_file_kib": rss_split["RssFile"],
            "threads": threads, "cpu_per_warm_event_s": cpu_warm / max(1, events - 1),
            "sched_cpu_per_warm_event_s": sched_ns / 1e9 / max(1, events - 1),
            "switches_per_warm_event": switches / max(1, events - 1),
            "last_answer": last_body.decode("utf-8", "replace")}


def seed_handler_source(seed_path):
    text = open(seed_path, encoding="utf-8").read()
    block = text.index("LambdaForReceivingAutomationResult:")
    start = text.index("ZipFile: |", block) + len("ZipFile: |\n")
    end = text.index("AutomationResultReceivedByLambdaRole:", start)
    lines = text[start:end].splitlines()
    indent = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return "\n".join(l[indent:] for l in lines).strip() + "\n"


def summary(latencies):
    warm = sorted(latencies[1:]) or latencies
    pct = lambda p: warm[min(len(warm) - 1, int(p * len(warm)))]
    return {"first_ms": latencies[0] * 1e3, "median_ms": statistics.median(warm) * 1e3,
            "p95_ms": pct(0.95) * 1e3, "mean_ms": statistics.mean(warm) * 1e3}


def default_seed():
    found = sorted(glob.glob(os.path.join(ROOT, "..", "shared", "seeds", "000_*.txt")))
    return os.path.normpath(found[0]) if found else None


def default_python():
    venv = os.path.join(ROOT, ".tools", "venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def fixture_bytes(name):
    with open(os.path.join(ROOT, "runtime", "tests", "fixtures", name), "rb") as f:
        return f.read()


# The other three binaries, each with an event that takes it through real AWS calls against
# the recorded answers: the pipeline's token item is the SSM one (→ ignored, mismatch), the
# automation has ended (→ cleaned_up, nothing pending), the table is empty (→ scanned 0).
OTHERS = {
    "codepipeline-callback": ("codepipeline-approval-succeeded.json", b'"mismatch"'),
    "cleanup": ("states-ssm-child-aborted.json", b'"nothing_pending"'),
    "reconciler": (None, b'"scanned":0'),
}
SCHEDULED = json.dumps({
    "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": ACCOUNT, "time": "2026-12-02T04:00:00Z",
    "region": "us-east-1", "resources": [], "detail": {}}).encode()


def start_others(zip_dir, tmp):
    """Cold start, first answer and peak RSS of the other three zips (one event each)."""
    out = {}
    for name, (fixture, expect) in OTHERS.items():
        path = os.path.join(zip_dir, f"approvalc-{name}.zip")
        if not os.path.exists(path):
            out[name] = "zip missing"
            continue
        dest = os.path.join(tmp, name)
        with zipfile.ZipFile(path) as z:
            z.extract("bootstrap", dest)
        exe = os.path.join(dest, "bootstrap")
        os.chmod(exe, 0o755)
        event = fixture_bytes(fixture) if fixture else SCHEDULED
        r = drive([exe], 1, lambda body, e=expect: e in body, event=event)
        out[name] = {"zip_bytes": os.path.getsize(path), "cold_ms": r["cold_s"] * 1e3,
                     "peak_rss_mib": r["peak_rss_kib"] / 1024,
                     "aws_calls": r["aws_calls"], "answer": r["last_answer"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zip", default=os.path.join(ROOT, "dist", "lambda", "x86_64",
                                                  "approvalc-ssm-callback.zip"))
    ap.add_argument("--seed", default=default_seed())
    ap.add_argument("--python", default=default_python())
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--no-others", action="store_true",
                    help="skip the start-up check of the other three zips next to --zip")
    ap.add_argument("--rust-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the Rust process (experiments)")
    ap.add_argument("--server", choices=("rust", "python"), default="rust",
                    help="the Runtime API + recorded-AWS server: the Rust replay server "
                         "(default) or the earlier Python http.server")
    ap.add_argument("--server-threads", type=int, default=1,
                    help="tokio worker threads of the Rust server (1: single-threaded)")
    ap.add_argument("--endpoint-bin", help="a built bench_endpoint (default: cargo build)")
    ap.add_argument("--pin", choices=tuple(PINS),
                    help="experiment: Rust server and handler on the same CPU (0) or one "
                         "each (0, 1); not how the figures in the docs are measured")
    args = ap.parse_args()
    if not os.path.exists(args.zip):
        raise SystemExit(f"{args.zip} missing: run scripts/package-lambdas.sh --arch x86_64")
    if not args.seed:
        raise SystemExit("seed 000 not found under ../shared/seeds: pass --seed")
    if subprocess.run([args.python, "-c", "import boto3"], capture_output=True).returncode:
        raise SystemExit(f"{args.python} cannot import boto3: run scripts/install-tools.sh")
    ENDPOINT["kind"], ENDPOINT["threads"] = args.server, args.server_threads
    if args.pin and args.server != "rust":
        raise SystemExit("--pin needs --server rust (the Python server is a thread of this script)")
    ENDPOINT["pin"] = args.pin
    if args.server == "rust":
        ENDPOINT["exe"] = args.endpoint_bin or build_endpoint()
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.zip) as z:
            z.extract("bootstrap", tmp)
        bootstrap = os.path.join(tmp, "bootstrap")
        os.chmod(bootstrap, 0o755)
        src = os.path.join(tmp, "seed000_handler.py")
        with open(src, "w") as f:
            f.write(seed_handler_source(args.seed))
        runners = {
            "rust": ([bootstrap], lambda body: b'"decided"' in body,
                     dict(kv.split("=", 1) for kv in args.rust_env)),
            "python": ([args.python, "-c", PY_RUNTIME, src],
                       lambda body: json.loads(body) == {"is_approved": True}, {}),
        }
        results = {name: [] for name in runners}
        for _ in range(args.runs):
            for name, (argv, accept, extra_env) in runners.items():
                results[name].append(drive(argv, args.events, accept, extra_env))
        bootstrap_bytes = os.path.getsize(bootstrap)
        others = {} if args.no_others else start_others(os.path.dirname(args.zip), tmp)

    report = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "server": {"kind": args.server, "threads": args.server_threads
                         if args.server == "rust" else None, "pin": args.pin},
              "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()],
              "events_per_run": args.events, "runs": args.runs,
              "zip_bytes": os.path.getsize(args.zip), "bootstrap_bytes": bootstrap_bytes,
              "python_interpreter": args.python, "other_zips": others}
    for name, runs in results.items():
        report[name] = {
            "cold_ms": statistics.median(r["cold_s"] for r in runs) * 1e3,
            "peak_rss_mib": statistics.median(r["peak_rss_kib"] for r in runs) / 1024,
            "end_rss_anon_mib": statistics.median(r["rss_anon_kib"] for r in runs) / 1024,
            "end_rss_file_mib": statistics.median(r["rss_file_kib"] for r in runs) / 1024,
            "threads": runs[0]["threads"],
            "cpu_per_warm_event_ms": statistics.median(r["cpu_per_warm_event_s"] for r in runs) * 1e3,
            "sched_cpu_per_warm_event_ms": statistics.median(
                r["sched_cpu_per_warm_event_s"] for r in runs) * 1e3,
            "voluntary_switches_per_warm_event": statistics.median(
                r["switches_per_warm_event"] for r in runs),
            "endpoint_ms_per_event": statistics.median(r["endpoint_ms_per_event"] for r in runs),
            "aws_calls_per_event": {k: round(v / args.events, 3)
                                    for k, v in sorted(runs[0]["aws_calls"].items())},
            **{k: statistics.median(summary(r["latencies_s"])[k] for r in runs)
               for k in ("first_ms", "median_ms", "p95_ms", "mean_ms")},
            # Each run on its own, for the spread (the figures above are medians over runs).
            "per_run": [{**{k: round(v, 3) for k, v in summary(r["latencies_s"]).items()},
                         "cpu_per_warm_event_ms": round(r["cpu_per_warm_event_s"] * 1e3, 3),
                         "sched_cpu_per_warm_event_ms":
                             round(r["sched_cpu_per_warm_event_s"] * 1e3, 3),
                         "voluntary_switches_per_warm_event":
                             round(r["switches_per_warm_event"], 2),
                         "peak_rss_mib": round(r["peak_rss_kib"] / 1024, 2),
                         "endpoint_ms_per_event": round(r["endpoint_ms_per_event"], 3)}
                        for r in runs],
        }
    py, rs = report["python"], report["rust"]
    report["ratio_python_over_rust"] = {
        k: round(py[k] / rs[k], 1) if rs[k] else None
        for k in ("median_ms", "p95_ms", "cold_ms", "cpu_per_warm_event_ms",
                  "sched_cpu_per_warm_event_ms", "peak_rss_mib")}
    report["ratio_per_run"] = [
        {k: round(p[k] / r[k], 1) if r[k] else None
         for k in ("median_ms", "p95_ms", "cpu_per_warm_event_ms",
                   "sched_cpu_per_warm_event_ms", "peak_rss_mib")}
        for p, r in zip(py["per_run"], rs["per_run"])]
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
