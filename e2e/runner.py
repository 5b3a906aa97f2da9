#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the declarative e2e cases (e2e/cases/*.case) inside the kernel lab.

A case file is `KEY: value` lines; a line starting with whitespace continues
the previous value on a new line; `#` at the start of a line is a comment.

  NAME:                 one-line description (required)
  REQUIRES:             space-separated: none, bpf-lsm, bulkhead, daemon,
                        cmd:NAME (a program on PATH)
  SETUP:                bash, as root, outside any session, before the run
  RUN:                  sh, inside a new session:
                          bulkhead run --agent $AGENT -- sh -c "$RUN"
  RUN_OUTSIDE:          bash, outside any session (instead of RUN)
  AGENT:                the --agent name for RUN (default: test)
  EXPECT_EXIT:          exit status of RUN / RUN_OUTSIDE
  EXPECT_ERRNO:         NAME: the output has `errno=NAME` (bulkhead-attack) or
                        the strerror text of NAME (cat, python, bpftool)
  EXPECT_OUTPUT:        substring that must be in stdout+stderr (repeatable)
  EXPECT_NOT_IN_OUTPUT: substring that must not be there (repeatable)
  EXPECT_EVENT:         key=value ... an event in the daemon's JSONL log
                        written during the run matches all pairs (repeatable)
  EXPECT_NO_EVENT:      key=value ... no such event appears (repeatable)
  CHECK:                bash, outside any session, after the run; must exit 0
  CLEANUP:              bash, outside any session, always run last
  TIMEOUT:              seconds for RUN / RUN_OUTSIDE (default 60)

Event keys: rule, priority, source (top level); verdict, session, agent, op,
level (agent.*); res (evt.res); path (fd.name); any other dotted key names an
output_fields entry. Values are fnmatch globs; `session=current` means the
session id of this run (BULKHEAD_SESSION inside it).

With --level landlock the runner makes the level-2 table instead of passing
or failing: each session case runs under `bulkhead run --level landlock` and
is classified as `blocked ERRNO` (a denial reached the caller and no secret
leaked), `detected` (not blocked, but the case's rule fired for the session)
or `not-covered`; cases that expect the operation to work are `works` or
`broken`. Lines go to results.txt as `LEVEL2 name: class`.

Scripts get: BULKHEAD, ATTACK, E2E, E2E_LIB, REPO, EVENTS_LOG, DAEMON_PID,
CASE, CASE_TMP (a fresh directory), WORKSPACE; the bash scripts can source
$E2E_LIB (daemon_start, daemon_stop, daemon_pid, bpf_link_count,
assert_denied). Secrets and the workspace come from e2e/fixtures.sh.
"""

import argparse
import errno
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

SHELL_KEYS = {"SETUP", "RUN", "RUN_OUTSIDE", "CHECK", "CLEANUP"}
LIST_KEYS = {"EXPECT_OUTPUT", "EXPECT_NOT_IN_OUTPUT", "EXPECT_EVENT", "EXPECT_NO_EVENT"}
SCALAR_KEYS = {"NAME", "REQUIRES", "AGENT", "EXPECT_EXIT", "EXPECT_ERRNO", "TIMEOUT"}
ALL_KEYS = SHELL_KEYS | LIST_KEYS | SCALAR_KEYS

EVENT_KEY_ALIASES = {
    "verdict": "agent.verdict",
    "session": "agent.session",
    "agent": "agent.name",
    "op": "agent.op",
    "level": "agent.level",
    "res": "evt.res",
    "path": "fd.name",
}
TOP_LEVEL_EVENT_KEYS = {"rule", "priority", "source", "output", "hostname"}

SESSION_TAG = "@@e2e-session="
EVENT_WAIT_S = 6.0  # events are delivered asynchronously by the daemon
NO_EVENT_GRACE_S = 2.0


class CaseError(Exception):
    pass


def parse_case(path):
    case = {k: [] for k in LIST_KEYS}
    last = None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#") and not line[:1].isspace():
                continue
            if line[:1].isspace():
                if last is None:
                    raise CaseError(f"{path}:{lineno}: continuation line before any key")
                if last in LIST_KEYS:
                    case[last][-1] += "\n" + line.strip()
                else:
                    case[last] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or key not in ALL_KEYS:
                raise CaseError(f"{path}:{lineno}: unknown line {line!r}")
            value = value.strip()
            if key in SCALAR_KEYS and " #" in value:
                value = value.split(" #", 1)[0].strip()
            if key in LIST_KEYS:
                case[key].append(value)
            elif key in SHELL_KEYS and key in case:
                case[key] += "\n" + value
            elif key in case:
                raise CaseError(f"{path}:{lineno}: {key} given twice")
            else:
                case[key] = value
            last = key
    if "NAME" not in case:
        raise CaseError(f"{path}: NAME missing")
    if ("RUN" in case) == ("RUN_OUTSIDE" in case):
        raise CaseError(f"{path}: exactly one of RUN and RUN_OUTSIDE is needed")
    if "EXPECT_ERRNO" in case and not hasattr(errno, case["EXPECT_ERRNO"]):
        raise CaseError(f"{path}: unknown errno {case['EXPECT_ERRNO']}")
    return case


def parse_event_spec(spec):
    """`rule="Read SSH private key" verdict=deny` -> [(field, glob), ...]"""
    pairs = []
    for token in shlex.split(spec):
        key, sep, value = token.partition("=")
        if not sep:
            raise CaseError(f"event spec token {token!r} is not key=value")
        pairs.append((EVENT_KEY_ALIASES.get(key, key), value))
    return pairs


def event_value(event, key):
    if key in TOP_LEVEL_EVENT_KEYS:
        return event.get(key)
    fields = event.get("output_fields") or {}
    return fields.get(key)


def event_matches(event, pairs, session):
    for key, pattern in pairs:
        if key == "agent.session" and pattern == "current":
            pattern = session or "<no session id>"
        value = event_value(event, key)
        if value is None:
            return False
        if not fnmatch.fnmatchcase(str(value), pattern):
            return False
    return True


class EventLog:
    def __init__(self, path):
        self.path = path

    def offset(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def read_since(self, offset):
        """Complete lines written since offset: (events, malformed lines)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return [], []
        events, bad = [], []
        for line in data.split(b"\n")[:-1]:  # the last piece is partial or empty
            if not line.strip():
                continue
            try:
                events.append(json.loads(line.decode("utf-8", errors="strict")))
            except (UnicodeDecodeError, ValueError) as e:
                bad.append(f"{line[:120]!r}: {e}")
        return events, bad


def describe(event):
    fields = event.get("output_fields") or {}
    keys = ("agent.session", "agent.verdict", "agent.op", "evt.res", "fd.name", "proc.name")
    return f"rule={event.get('rule')!r} " + " ".join(f"{k}={fields.get(k)!r}" for k in keys)


class Runner:
    def __init__(self, args):
        self.args = args
        self.repo = os.path.abspath(args.repo)
        self.e2e = os.path.join(self.repo, "e2e")
        self.build = os.path.abspath(args.build_dir)
        self.out = os.path.abspath(args.out)
        self.bulkhead = os.environ.get("BULKHEAD", os.path.join(self.build, "userspace", "bulkhead"))
        self.attack = os.environ.get("ATTACK", os.path.join(self.build, "e2e", "bulkhead-attack"))
        self.events_log = os.environ.get("EVENTS_LOG", "/run/bulkhead/events.jsonl")
        self.state = os.environ.get("E2E_STATE", "/run/bulkhead-e2e")
        self.events = EventLog(self.events_log)
        self.daemon_error = None
        self.daemon_started = False
        self.results = []
        os.makedirs(os.path.join(self.out, "cases"), exist_ok=True)
        self.results_file = open(os.path.join(self.out, "results.txt"), "w", encoding="utf-8")
        try:
            with open("/sys/kernel/security/lsm") as f:
                self.lsm = f.read().strip()
        except OSError:
            self.lsm = ""

    # -- environment -------------------------------------------------------

    def env(self, case_stem=None):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "BULKHEAD": self.bulkhead,
            "ATTACK": self.attack,
            "E2E": self.e2e,
            "E2E_LIB": os.path.join(self.e2e, "lib.sh"),
            "REPO": self.repo,
            "LAB_BUILD_DIR": self.build,
            "LAB_OUT": self.out,
            "LAB_DAEMON_ARGS": os.environ.get("LAB_DAEMON_ARGS", ""),
            "EVENTS_LOG": self.events_log,
            "E2E_STATE": self.state,
            "WORKSPACE": "/root/work/repo",
            "DAEMON_PID": self.pidfile_pid(),
        }
        if case_stem:
            env["CASE"] = case_stem
            env["CASE_TMP"] = os.path.join("/tmp/e2e", case_stem)
        return env

    def pidfile_pid(self):
        try:
            with open(os.path.join(self.state, "daemon.pid")) as f:
                return f.read().strip()
        except OSError:
            return ""

    def daemon_pid(self):
        """The pid `bulkhead status` reports, else the one we started."""
        if self.have_bulkhead():
            r = subprocess.run([self.bulkhead, "status"], capture_output=True, text=True,
                               errors="replace", timeout=20)
            for tok in r.stdout.split():
                if tok.startswith("pid="):
                    return tok[4:]
        return self.pidfile_pid()

    def sh(self, script, env, timeout, log, label):
        """Runs `bash -c script` (outside any session); returns (exit status or None on timeout, output bytes)."""
        log.write(f"---- {label}:\n{script}\n".encode())
        return self.run_argv(["bash", "-c", script], env, timeout, log, label)

    def run_argv(self, argv, env, timeout, log, label):
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd="/root")
        try:
            out, _ = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:  # an escaped process holds the pipe
                proc.stdout.close()
                out = b"(output lost: a process that left the group kept the pipe open)\n"
            rc = None
        log.write(f"---- {label} output:\n".encode() + out)
        log.write(f"---- {label} exit: {rc}\n".encode())
        log.flush()
        return rc, out

    # -- requirements and the daemon --------------------------------------

    def have_bulkhead(self):
        return os.access(self.bulkhead, os.X_OK)

    def start_daemon(self):
        if self.daemon_started or self.daemon_error:
            return
        self.daemon_started = True
        print(f"runner: starting the daemon ({self.bulkhead})", flush=True)
        # daemon_start gives up after DAEMON_WAIT (lib.sh); this is the backstop.
        wait = int(os.environ.get("DAEMON_WAIT", "360")) + 60
        r = subprocess.run(["bash", "-c", '. "$E2E_LIB" && daemon_start'], env=self.env(),
                           capture_output=True, text=True, errors="replace", timeout=wait)
        if r.returncode != 0:
            lines = list(dict.fromkeys((r.stdout + r.stderr).strip().splitlines()))
            self.daemon_error = "daemon did not start: " + " | ".join(lines[-4:])
            print(f"runner: {self.daemon_error}", flush=True)
        else:
            status = subprocess.run([self.bulkhead, "status"], capture_output=True, text=True,
                                    errors="replace", timeout=20)
            print(f"runner: {status.stdout.strip()}", flush=True)

    def unmet(self, case):
        """Returns (verdict, reason) when the case cannot run here, else None."""
        reqs = set(case.get("REQUIRES", "").split()) - {"none"}
        if "RUN" in case or case["EXPECT_EVENT"] or case["EXPECT_NO_EVENT"]:
            reqs.add("daemon")
        if "daemon" in reqs:
            reqs.add("bulkhead")
        for req in sorted(reqs):
            if req == "bpf-lsm" and self.args.level:
                continue  # the table says what the other level does with the case
            if req == "bpf-lsm" and "bpf" not in self.lsm.split(","):
                return "SKIP", f"BPF LSM not active (lsm={self.lsm or 'unknown'})"
            if req.startswith("cmd:") and not shutil.which(req[4:]):
                return "SKIP", f"{req[4:]} not installed"
            if req not in ("bpf-lsm", "bulkhead", "daemon") and not req.startswith("cmd:"):
                return "FAIL", f"unknown requirement {req!r}"
        if "bulkhead" in reqs and not self.have_bulkhead():
            return "SKIP", f"bulkhead not built ({self.bulkhead} missing)"
        if "daemon" in reqs:
            self.start_daemon()
            if self.daemon_error:
                return "FAIL", self.daemon_error
        return None

    # -- one case ------------------------------------------------------------

    def run_case(self, path):
        stem = os.path.basename(path)[: -len(".case")]
        try:
            case = parse_case(path)
        except (CaseError, OSError, UnicodeDecodeError) as e:
            return stem, "FAIL", f"bad case file: {e}"
        print(f"\n==== {stem}: {case['NAME']}", flush=True)
        if self.args.level and "RUN" not in case:
            return stem, "SKIP", "not a session case"
        blocked = self.unmet(case)
        if blocked:
            return stem, blocked[0], blocked[1]
        with open(os.path.join(self.out, "cases", stem + ".log"), "wb") as log:
            log.write(f"case {stem}: {case['NAME']}\n".encode())
            try:
                return (stem,) + self.execute(stem, case, log)
            finally:
                if "CLEANUP" in case:
                    self.sh(case["CLEANUP"], self.env(stem), 60, log, "CLEANUP")

    def execute(self, stem, case, log):
        env = self.env(stem)
        shutil.rmtree(env["CASE_TMP"], ignore_errors=True)
        os.makedirs(env["CASE_TMP"], exist_ok=True)
        daemon_before = env["DAEMON_PID"] if self.daemon_started else ""

        if "SETUP" in case:
            rc, out = self.sh(case["SETUP"], env, 120, log, "SETUP")
            if rc != 0:
                return "FAIL", f"SETUP exited {rc}: {tail(out)}"

        timeout = int(case.get("TIMEOUT", "60"))
        offset = self.events.offset()
        started = time.monotonic()
        if "RUN" in case:
            agent = case.get("AGENT", "test")
            wrapped = f'echo "{SESSION_TAG}${{BULKHEAD_SESSION-}}" >&2\n' + case["RUN"]
            # The daemon's own config, so that level 2 protects the state it
            # names (the audit key) as the daemon does.
            config = os.path.join(env.get("E2E_STATE", "/run/bulkhead-e2e"), "lab-config.yaml")
            argv = [self.bulkhead, "run", "--agent", agent] + (["--level", self.args.level] if self.args.level else []) \
                + (["--config", config] if os.path.exists(config) else []) + ["--", "sh", "-c", wrapped]
            log.write(b"---- RUN (in a session):\n" + case["RUN"].encode() + b"\n")
            rc, out = self.run_argv(argv, env, timeout, log, "RUN")
        else:
            rc, out = self.sh(case["RUN_OUTSIDE"], env, timeout, log, "RUN_OUTSIDE")
        elapsed = time.monotonic() - started

        session, out = extract_session(out)
        if self.args.level:
            return self.classify(case, rc, out, session, offset, log)
        failures = []
        if rc is None:
            failures.append(f"timed out after {timeout}s")
        if "RUN" in case and not session:
            failures.append("BULKHEAD_SESSION was not set inside the session")
        if "EXPECT_EXIT" in case and rc is not None and rc != int(case["EXPECT_EXIT"]):
            failures.append(f"exit {rc}, expected {case['EXPECT_EXIT']}")
        if "EXPECT_ERRNO" in case:
            name = case["EXPECT_ERRNO"]
            texts = [f"errno={name}".encode(), os.strerror(getattr(errno, name)).encode()]
            if not any(t in out for t in texts):
                failures.append(f"no {name} in the output: {tail(out)}")
        for s in case["EXPECT_NOT_IN_OUTPUT"]:
            if s.encode() in out:
                what = "LEAK: secret" if s.startswith("BULKHEAD-SECRET") else "unwanted"
                failures.append(f"{what} {s!r} reached the output")
        for s in case["EXPECT_OUTPUT"]:
            if s.encode() not in out:
                failures.append(f"{s!r} not in the output: {tail(out)}")

        failures += self.check_events(case, session, offset, log)

        if "CHECK" in case:
            env["DAEMON_PID"] = self.daemon_pid()
            crc, cout = self.sh(case["CHECK"], env, 120, log, "CHECK")
            if crc != 0:
                failures.append(f"CHECK exited {crc}: {tail(cout)}")

        if daemon_before:
            pid = self.daemon_pid()
            if not pid or not pid_alive(pid):
                failures.append("the daemon died during the case (restarted); its log ends: "
                                + self.daemon_log_tail())
                self.daemon_started = False
                self.start_daemon()

        log.write(f"---- run took {elapsed:.2f}s, session={session!r}\n".encode())
        if failures:
            return "FAIL", "; ".join(failures)
        return "PASS", ""

    def classify(self, case, rc, out, session, offset, log):
        """The level-2 table's verdict for one case: ("LEVEL2", class)."""
        leaked = [s for s in case["EXPECT_NOT_IN_OUTPUT"] if s.startswith("BULKHEAD-SECRET") and s.encode() in out]
        expects_denial = ("EXPECT_ERRNO" in case or case.get("EXPECT_EXIT", "0") != "0" or
                          any("errno=E" in s for s in case["EXPECT_OUTPUT"]) or
                          any("exit=0" in s for s in case["EXPECT_NOT_IN_OUTPUT"]))
        seen = [n for n in ("EPERM", "EACCES", "EXDEV")
                if f"errno={n}".encode() in out or os.strerror(getattr(errno, n)).encode() in out]
        if not expects_denial:
            failures = [f"{s!r} not in the output" for s in case["EXPECT_OUTPUT"] if s.encode() not in out]
            if "EXPECT_EXIT" in case and rc != int(case["EXPECT_EXIT"]):
                failures.append(f"exit {rc}")
            failures += self.check_events(case, session, offset, log)
            if not failures and not leaked:
                return "LEVEL2", "works"
            if seen and not leaked:  # denied earlier than the case expects (seccomp before the observer)
                return "LEVEL2", "blocked " + seen[0]
            return "LEVEL2", "broken (" + "; ".join(failures) + ")"
        # Every step the case expects denied ("rename errno=EPERM") must be
        # denied, with whatever errno this level gives.
        steps = [x.split("errno=")[0] for x in case["EXPECT_OUTPUT"] if "errno=E" in x]
        allowed = [p.strip() for p in steps
                   if not any(f"{p}errno={n}".encode() in out for n in ("EPERM", "EACCES", "EXDEV"))]
        if seen and not leaked and not allowed:
            return "LEVEL2", "blocked " + seen[0]
        if seen and not leaked:
            return "LEVEL2", "partly blocked (not: " + ", ".join(allowed) + ")"
        rules = [dict(parse_event_spec(s)).get("rule") for s in case["EXPECT_EVENT"]]
        time.sleep(1.0)  # the daemon reads the ring buffer asynchronously
        events, _ = self.events.read_since(offset)
        fired = [r for r in rules if r and any(e.get("rule") == r and
                 (e.get("output_fields") or {}).get("agent.session") == session for e in events)]
        log.write(f"---- level {self.args.level}: denials {seen}, leaked {leaked}, fired {fired}\n".encode())
        return "LEVEL2", "detected" if fired else "not-covered" + (" (leaked)" if leaked else "")

    def check_events(self, case, session, offset, log):
        expected = [(s, parse_event_spec(s)) for s in case["EXPECT_EVENT"]]
        unwanted = [(s, parse_event_spec(s)) for s in case["EXPECT_NO_EVENT"]]
        if not expected and not unwanted:
            return []
        deadline = time.monotonic() + EVENT_WAIT_S
        while True:
            events, bad = self.events.read_since(offset)
            missing = [s for s, pairs in expected
                       if not any(event_matches(e, pairs, session) for e in events)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if unwanted:
            time.sleep(NO_EVENT_GRACE_S)
            events, bad = self.events.read_since(offset)
        log.write(f"---- events since the run ({len(events)}):\n".encode())
        for e in events:
            log.write((json.dumps(e) + "\n").encode())
        failures = []
        for s in missing:
            seen = "; ".join(describe(e) for e in events[-3:]) or "no events at all"
            failures.append(f"no event matching [{s}] (last seen: {seen})")
        for s, pairs in unwanted:
            hits = [e for e in events if event_matches(e, pairs, session)]
            if hits:
                failures.append(f"unexpected event [{s}]: {describe(hits[0])}")
        if bad:
            failures.append(f"{len(bad)} malformed event line(s), first: {bad[0]}")
        return failures

    # -- all cases -------------------------------------------------------------

    def record(self, name, verdict, reason):
        line = f"{verdict} {name}" + (f": {reason}" if reason else "")
        line = line.replace("\n", " ")
        print(line, flush=True)
        self.results_file.write(line + "\n")
        self.results_file.flush()
        self.results.append(verdict)

    def run(self):
        print(f"runner: lsm={self.lsm}; bulkhead={'present' if self.have_bulkhead() else 'MISSING'}; "
              f"attack={'present' if os.access(self.attack, os.X_OK) else 'MISSING'}", flush=True)
        cases = sorted(p for p in os.listdir(self.args.cases) if p.endswith(".case"))
        selected = []
        for name in cases:
            path = os.path.join(self.args.cases, name)
            stem = name[: -len(".case")]
            if self.args.filter in ("", "*") or fnmatch.fnmatch(stem, self.args.filter):
                selected.append(path)
                continue
            try:
                if fnmatch.fnmatch(parse_case(path)["NAME"], self.args.filter):
                    selected.append(path)
            except CaseError:
                selected.append(path)  # let run_case report it
        if not selected:
            self.record("filter", "FAIL", f"no case matches {self.args.filter!r}")
        fixtures = os.path.join(self.e2e, "fixtures.sh")
        r = subprocess.run(["bash", fixtures], env=self.env(), capture_output=True, text=True,
                           errors="replace", timeout=300)
        print(r.stdout + r.stderr, end="", flush=True)
        if r.returncode != 0:
            self.record("fixtures", "FAIL", f"e2e/fixtures.sh exited {r.returncode}: "
                        + tail((r.stdout + r.stderr).encode()))
            return 1
        for path in selected:
            start = time.monotonic()
            try:
                stem, verdict, reason = self.run_case(path)
            except Exception as e:  # a broken case or runner bug fails one case, not the run
                stem = os.path.basename(path)[: -len(".case")]
                verdict, reason = "FAIL", f"runner error: {type(e).__name__}: {e}"
            print(f"({time.monotonic() - start:.1f}s)", flush=True)
            self.record(stem, verdict, reason)
        self.stop_daemon()
        return 1 if "FAIL" in self.results else 0

    def daemon_log_tail(self, size=1500):
        """The end of the daemon's log, so a crash in CI shows its cause."""
        try:
            with open(os.path.join(self.state, "daemon.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return tail(f.read(), size)
        except OSError as e:
            return f"(no daemon log: {e.strerror})"

    def stop_daemon(self):
        if self.daemon_started and not self.daemon_error:
            subprocess.run(["bash", "-c", '. "$E2E_LIB" && daemon_stop TERM'], env=self.env(),
                           timeout=60)
        for src in (self.events_log, os.path.join(self.state, "daemon.log")):
            if os.path.exists(src):
                shutil.copy(src, self.out)


def extract_session(out):
    session = ""
    kept = []
    for line in out.split(b"\n"):
        if line.startswith(SESSION_TAG.encode()):
            session = line[len(SESSION_TAG):].decode(errors="replace").strip()
            continue
        kept.append(line)
    return session, b"\n".join(kept)


def pid_alive(pid):
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False


def tail(out, n=300):
    """The end of some output, one line, secrets redacted (a leak is reported apart)."""
    out = re.sub(rb"BULKHEAD-SECRET-[A-Za-z0-9_-]*", b"<secret>", out)
    text = out.decode("utf-8", errors="backslashreplace").strip().replace("\n", " | ")
    return text if len(text) <= n else "..." + text[-n:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", required=True)
    ap.add_argument("--filter", default="*")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--level", choices=["landlock"], help="make the level-2 table (see above)")
    args = ap.parse_args()
    sys.exit(Runner(args).run())


if __name__ == "__main__":
    main()
