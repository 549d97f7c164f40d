#!/usr/bin/env python3
"""Autobahn|TestSuite conformance: the fuzzing-client cases 1-7 and 10
against tinypush's /echo.

Installs the pinned runner into target/autobahn-venv on first use, starts
the release binary on a free port, runs the cases, writes the HTML report
to reports/autobahn/index.html, prints a summary, and exits non-zero if any
case FAILED (or the runner could not run). Bounded: the server is stopped
and the runner given at most RUN_TIMEOUT seconds.
"""

import collections
import json
import os
import re
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, "target", "autobahn-venv")
REQUIREMENTS = os.path.join(ROOT, "tests", "autobahn", "requirements.txt")
REPORT = os.path.join(ROOT, "reports", "autobahn")
BINARY = os.path.join(ROOT, "target", "release", "tinypush")
CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]
RUN_TIMEOUT = 600


def ensure_runner():
    runner = os.path.join(VENV, "bin", "kosoku")
    stamp = os.path.join(VENV, "requirements.txt")
    wanted = open(REQUIREMENTS).read()
    if os.path.exists(runner) and os.path.exists(stamp) and open(stamp).read() == wanted:
        return runner
    print("installing the Autobahn runner into", VENV, flush=True)
    venv.create(VENV, with_pip=True, clear=True)
    pip = os.path.join(VENV, "bin", "pip")
    subprocess.run([pip, "install", "--quiet", "-r", REQUIREMENTS], check=True)
    with open(stamp, "w") as f:
        f.write(wanted)
    return runner


def start_server():
    log = open(os.path.join(ROOT, "target", "autobahn-server.log"), "w")
    server = subprocess.Popen(
        [BINARY, "serve", "--addr", "127.0.0.1:0", "--static-dir", "static"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    for line in server.stderr:
        log.write(line)
        match = re.search(r"listening on http://([\d.]+:\d+)", line)
        if match:
            # Keep draining the log so the server never blocks on a full pipe.
            subprocess.Popen(["cat"], stdin=server.stderr, stdout=log)
            return server, match.group(1)
    raise SystemExit("autobahn: the server exited before listening")


def main():
    runner = ensure_runner()
    server, addr = start_server()
    try:
        cmd = [runner, "-p", "4", "-o", REPORT]
        for case in CASES:
            cmd += ["-i", case]
        cmd.append(f"ws://{addr}/echo")
        print("autobahn:", " ".join(cmd[1:]), flush=True)
        run = subprocess.run(cmd, timeout=RUN_TIMEOUT, capture_output=True, text=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    index = os.path.join(REPORT, "index.json")
    if not os.path.exists(index):
        print(run.stdout, run.stderr, sep="\n")
        raise SystemExit("autobahn: no report written")
    cases = next(iter(json.load(open(index)).values()))
    verdicts = collections.Counter(case["behavior"] for case in cases.values())
    failed = sorted(
        (case_id for case_id, case in cases.items()
         if case["behavior"] in ("FAILED", "UNIMPLEMENTED") or case["behaviorClose"] == "FAILED"),
        key=lambda c: [int(p) for p in c.split(".")],
    )
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items()))
    print(f"autobahn: {len(cases)} cases: {summary}")
    print(f"autobahn: report in {os.path.relpath(REPORT, ROOT)}/index.html")
    if failed or run.returncode != 0:
        print("autobahn: FAILED cases:", " ".join(failed) or "(runner exit %d)" % run.returncode)
        print(run.stderr[-2000:])
        sys.exit(1)
    print(f"{len(cases)} passed, 0 failed")


if __name__ == "__main__":
    main()
