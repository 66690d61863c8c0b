#!/usr/bin/env python3
"""Times moto's Step Functions interpreter on the shared benchmark workloads.

moto 5.2.5 (installed in .tools/venv by scripts/install-tools.sh), in-process, with
config {"stepfunctions": {"execute_state_machine": true}}: each workload is created once
and started with input {} RUNS times; a run is timed from StartExecution until
DescribeExecution reports a final status (wall time, and CPU time of the whole process,
which is fairer on a shared, loaded host). Transitions are the history's *StateEntered
events. Prints one JSON object per workload (median seconds, transitions, transitions/s),
which docs/bench-engine.md quotes next to the engine's criterion figures.

Usage: .tools/venv/bin/python scripts/bench-moto-sfn.py [BENCH_DIR] [RUNS]
(BENCH_DIR defaults to tests/bench in the repository, RUNS to 5.)
"""

import json
import os
import statistics
import sys
import time
import uuid

import boto3
from moto import mock_aws

WORKLOADS = [
    "a_pass_chain_1000",
    "b_parallel_50x10",
    "c_map_200x3",
    "d_choice_loop_1000",
]
ROLE = "arn:aws:iam::123456789012:role/bench"


def history_transitions(client, arn):
    count, token = 0, None
    while True:
        kwargs = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = client.get_execution_history(**kwargs)
        count += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
        token = page.get("nextToken")
        if not token:
            return count


def run_once(client, sm_arn):
    began, cpu_began = time.perf_counter(), time.process_time()
    arn = client.start_execution(stateMachineArn=sm_arn, name=uuid.uuid4().hex, input="{}")["executionArn"]
    while True:
        status = client.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            break
        # Coarse polling: each DescribeExecution takes the GIL from the interpreter thread.
        time.sleep(0.01)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    if status != "SUCCEEDED":
        raise SystemExit(f"moto execution ended {status}")
    return elapsed, cpu, history_transitions(client, arn)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    bench_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "bench")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        for name in WORKLOADS:
            with open(os.path.join(bench_dir, f"{name}.asl.json")) as f:
                definition = f.read()
            sm_arn = client.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
            times, cpus, transitions = [], [], 0
            for _ in range(runs):
                elapsed, cpu, transitions = run_once(client, sm_arn)
                times.append(elapsed)
                cpus.append(cpu)
            median, median_cpu = statistics.median(times), statistics.median(cpus)
            print(json.dumps({
                "workload": name,
                "median_s": round(median, 4),
                "median_cpu_s": round(median_cpu, 4),
                "transitions": transitions,
                "transitions_per_s": round(transitions / median),
                "transitions_per_cpu_s": round(transitions / median_cpu),
                "runs": runs,
            }), flush=True)


if __name__ == "__main__":
    main()
