#!/usr/bin/env python3
"""Bounded SIPp load steps on loopback for interop/bench/cps.sh.

  loadstep.py sweep  --target NAME@PORT[=SUT COMMAND] ... --rates R1,R2,.. --hold-ms MS --out steps.tsv
  loadstep.py report steps.tsv            # markdown: step table, maxima, ratios, CPU and RSS per call

One step = one target at one rate:
  1. a fresh system under test (SUT) is started from its command line (none for NAME@UAS_PORT
     with no command: SIPp UAC straight to the SIPp UAS, the ceiling); idle RSS is read;
  2. a fresh SIPp UAS (uas.xml) and a SIPp UAC (uac.xml) with -r RATE -m RATE*SECS -d HOLD;
  3. while the UAC runs: SUT RSS (VmRSS summed over the SUT's processes) and PSS are sampled;
  4. when the UAC is done: SUT CPU (utime+stime from /proc/PID/stat over its processes),
     VmHWM, machine-wide UDP receive-buffer drops, CPU used by everything else on the box;
  5. UAS and SUT are stopped by PID (SIGUSR1 / SIGTERM, then SIGKILL after a grace period).
Each process is bounded: SIPp -m and -timeout, a hard wall-clock deadline here (signals escalate
USR1 -> TERM -> KILL), and cps.sh runs this script under timeout(1). On SIGTERM/SIGINT this script
stops every process it started, by PID, before it exits. Only 127.0.0.1 is used.

Rates are stepped in the given order with the targets interleaved (all targets at rate 1, then
at rate 2, ...) so that they share the same background load; a target drops out after its first
failing step (--keep-going to continue).

A step passes when: 0 failed calls on the UAC and on the UAS, every one of the RATE*SECS calls
succeeded, the achieved creation rate is >= 95 % of RATE, and retransmissions (UAC + UAS) are at
most --storm-pct % of the calls ("no retransmission storm"). "clean" = passed with 0
retransmissions.
"""
import argparse
import csv
import os
import re
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TCK = os.sysconf('SC_CLK_TCK')
STARTED = []  # Popen objects this script started (stopped by PID on exit)

COLUMNS = ['target', 'hold_ms', 'rate', 'calls', 'ok', 'failed', 'uas_ok', 'uas_failed',
           'retr_uac', 'retr_uas', 'achieved_cps', 'inv_200_ms', 'wall_s', 'concurrent_max',
           'sut_cpu_ms', 'sut_cpu_pct', 'sut_ms_per_call', 'uac_cpu_pct', 'uas_cpu_pct',
           'others_cpu_pct', 'rss_idle_kb', 'rss_peak_kb', 'hwm_kb', 'pss_idle_kb', 'pss_peak_kb',
           'rss_per_call_b', 'pss_per_call_b', 'udp_rcvbuf_err', 'load1_start', 'load1_end',
           'sut_ended', 'sut_ended_200', 'uac_rc', 'fail_detail', 'sut_note', 'passed', 'clean',
           'top_rate', 'dir']


# ---------------------------------------------------------------- /proc helpers

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ''


def stat_fields(pid):
    s = read(f'/proc/{pid}/stat')
    if not s:
        return None
    return s[s.rindex(')') + 2:].split()  # fields from 3 (state) on


def cpu_ticks(pid, children=False):
    f = stat_fields(pid)
    if not f:
        return 0
    t = int(f[11]) + int(f[12])  # utime + stime
    if children:
        t += int(f[13]) + int(f[14])  # cutime + cstime (reaped children)
    return t


def all_pids():
    return [int(d) for d in os.listdir('/proc') if d.isdigit()]


def tree(root):
    """root and all its descendants, each as (pid, starttime)"""
    kids = {}
    start = {}
    for p in all_pids():
        f = stat_fields(p)
        if f:
            kids.setdefault(int(f[1]), []).append(p)
            start[p] = f[19]
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in start:
            out.append((p, start[p]))
        todo.extend(kids.get(p, []))
    return out


def status_kb(pid, key):
    m = re.search(rf'^{key}:\s+(\d+) kB', read(f'/proc/{pid}/status'), re.M)
    return int(m.group(1)) if m else 0


def pss_kb(pid):
    m = re.search(r'^Pss:\s+(\d+) kB', read(f'/proc/{pid}/smaps_rollup'), re.M)
    return int(m.group(1)) if m else 0


def udp_bound(port):
    """True when some UDP socket is bound to `port` (IPv4 or IPv6)"""
    for table in ('/proc/net/udp', '/proc/net/udp6'):
        for line in read(table).splitlines()[1:]:
            local = line.split()[1]
            if int(local.rsplit(':', 1)[1], 16) == port:
                return True
    return False


def tcp_listening(port):
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in read(table).splitlines()[1:]:
            c = line.split()
            if c[3] == '0A' and int(c[1].rsplit(':', 1)[1], 16) == port:
                return True
    return False


def rcvbuf_errors():
    lines = [l.split() for l in read('/proc/net/snmp').splitlines() if l.startswith('Udp:')]
    return int(dict(zip(lines[0][1:], lines[1][1:])).get('RcvbufErrors', 0))


def load1():
    return float(read('/proc/loadavg').split()[0])


def machine_ticks(exclude):
    """utime+stime of every live process not in `exclude` ({pid: ticks}). Processes that start
    and end within a step are missed, so this is a lower bound of the background load. (Adding
    cutime would credit a reaped child's whole lifetime to the step in which it was reaped.)"""
    out = {}
    for p in all_pids():
        if p not in exclude:
            out[p] = cpu_ticks(p)
    return out


# ---------------------------------------------------------------- processes

def start(cmd, out, err):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    STARTED.append(p)
    return p


def reap(p, secs):
    """wait up to `secs` for p; returns (exit code, cpu seconds incl. reaped children) or None"""
    end = time.time() + secs
    while True:
        if p.returncode is not None:
            return p.returncode, getattr(p, 'cpu_s', float('nan'))
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            p.cpu_s = ru.ru_utime + ru.ru_stime
            return p.returncode, p.cpu_s
        if time.time() >= end:
            return None
        time.sleep(0.05)


def stop(p, plan):
    """send the signals of `plan` [(signal, grace seconds)] in turn until p has exited"""
    for sig, grace in plan:
        r = reap(p, 0)
        if r is not None:
            return r
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        r = reap(p, grace)
        if r is not None:
            return r
    return reap(p, 5)


SIPP_STOP = [(signal.SIGUSR1, 10), (signal.SIGUSR1, 3), (signal.SIGTERM, 3), (signal.SIGKILL, 3)]
SUT_STOP = [(signal.SIGTERM, 10), (signal.SIGKILL, 5)]


def stop_stragglers(procs):
    """SIGKILL any SUT child still alive with the same pid and start time as recorded"""
    for pid, st in procs:
        f = stat_fields(pid)
        if f and f[19] == st and f[0] != 'Z':
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cleanup(*_):
    for p in STARTED:
        if p.returncode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            reap(p, 3)


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


# ---------------------------------------------------------------- SIPp statistics

def sipp_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline='') as f:
        rows = list(csv.reader(f, delimiter=';'))
    if not rows:
        return []
    hdr = rows[0]
    return [dict(zip(hdr, r)) for r in rows[1:] if len(r) >= len(hdr) - 1]


def epoch(v):
    return float(v.split('\t')[-1])


def ms(v):
    """SIPp 'hh:mm:ss:usec' -> milliseconds"""
    try:
        h, m, s, us = v.split(':')
        return (int(h) * 3600 + int(m) * 60 + int(s)) * 1000 + int(us) / 1000
    except ValueError:
        return float('nan')


def creation_cps(rows, n):
    """calls created per second until the n-th call (linear between 1 s samples)"""
    t0 = epoch(rows[0]['StartTime'])
    pt, pc = t0, 0
    for r in rows:
        t, c = epoch(r['CurrentTime']), int(r['OutgoingCall(C)'])
        if c >= n:
            tn = pt + (n - pc) / max(c - pc, 1) * (t - pt)
            return n / max(tn - t0, 1e-3)
        pt, pc = t, c
    return pc / max(pt - t0, 1e-3)


FAIL_KEYS = ['FailedCannotSendMessage(C)', 'FailedMaxUDPRetrans(C)', 'FailedTcpConnect(C)',
             'FailedTcpClosed(C)', 'FailedUnexpectedMessage(C)', 'FailedCallRejected(C)',
             'FailedCmdNotSent(C)', 'FailedRegexpDoesntMatch(C)', 'FailedRegexpShouldntMatch(C)',
             'FailedRegexpHdrNotFound(C)', 'FailedOutboundCongestion(C)', 'FailedTimeoutOnRecv(C)',
             'FailedTimeoutOnSend(C)', 'OutOfCallMsgs(C)', 'DeadCallMsgs(C)']


def fail_detail(side, row):
    parts = []
    for k in FAIL_KEYS:
        v = int(row.get(k, '0') or 0)
        if v:
            parts.append(f'{side}.{k[:-3].replace("Failed", "")}={v}')
    return parts


# ---------------------------------------------------------------- one step

def wait_until(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def step(a, tgt, rate, workdir):
    name, port, cmd = tgt
    d = os.path.join(workdir, f'{name}_h{a.hold_ms}_r{rate}')
    os.makedirs(d, exist_ok=True)
    n = int(round(rate * a.secs))
    hold_s = a.hold_ms / 1000
    sipp_timeout = int(a.secs * 2 + hold_s + 30)
    row = dict.fromkeys(COLUMNS, '')
    row.update(target=name, hold_ms=a.hold_ms, rate=rate, calls=n, dir=os.path.relpath(d, workdir),
               ok=0, failed=n, uas_ok=0, uas_failed=0, retr_uac=0, retr_uas=0, achieved_cps=0,
               concurrent_max=0, udp_rcvbuf_err=0)
    notes = []

    # ports must be free (another job on the box may hold one for a moment)
    need = [a.uac_port, a.uas_port] + ([port] if cmd else [])
    if not wait_until(lambda: not any(udp_bound(p) for p in need), 15):
        notes.append('ports busy: ' + ','.join(str(p) for p in need if udp_bound(p)))
        row.update(sut_note='; '.join(notes), passed=0, clean=0)
        return row
    row['load1_start'] = load1()

    sut = None
    if cmd:
        sut_out = open(f'{d}/sut.out', 'w')
        sut_err = open(f'{d}/sut.err', 'w')
        with open(f'{d}/cmd.txt', 'w') as f:
            f.write(' '.join(shlex.quote(c) for c in cmd) + '\n')
        sut = start(cmd, sut_out, sut_err)
        if not wait_until(lambda: udp_bound(port) or sut.poll() is not None, 20) or sut.poll() is not None:
            stop(sut, SUT_STOP)
            row.update(sut_note=f'SUT did not start (see {row["dir"]}/sut.err)', passed=0, clean=0)
            return row
        time.sleep(a.settle)
    procs = tree(sut.pid) if sut else []
    row['rss_idle_kb'] = sum(status_kb(p, 'VmRSS') for p, _ in procs)
    row['pss_idle_kb'] = sum(pss_kb(p) for p, _ in procs)

    common = ['-i', '127.0.0.1', '-nostdin', '-buff_size', str(a.buff), '-trace_stat', '-fd', '1',
              '-trace_err', '-max_log_size', '5000000', '-trace_screen']
    uas_cmd = ['sipp', '-sf', os.path.join(HERE, 'uas.xml'), '-p', str(a.uas_port),
               '-timeout', f'{sipp_timeout + 5}s', '-stf', f'{d}/uas.csv', '-error_file', f'{d}/uas_errors.log',
               '-screen_file', f'{d}/uas.screen'] + common
    uas = start(uas_cmd, subprocess.DEVNULL, open(f'{d}/uas.stderr', 'w'))
    if not wait_until(lambda: udp_bound(a.uas_port) or uas.poll() is not None, 10):
        notes.append('UAS did not bind')
    dest = f'127.0.0.1:{port}'
    uac_cmd = ['sipp', dest, '-sf', os.path.join(HERE, 'uac.xml'), '-s', a.service, '-p', str(a.uac_port),
               '-r', str(rate), '-rp', '1000', '-m', str(n), '-l', str(n), '-d', str(a.hold_ms),
               '-timeout', f'{sipp_timeout}s', '-stf', f'{d}/uac.csv', '-error_file', f'{d}/uac_errors.log',
               '-screen_file', f'{d}/uac.screen'] + common
    with open(f'{d}/cmd.txt', 'a') as f:
        f.write(' '.join(uas_cmd) + '\n' + ' '.join(uac_cmd) + '\n')

    pids_sut = {p for p, _ in procs}
    t_sut0 = sum(cpu_ticks(p) for p in pids_sut)
    rcv0 = rcvbuf_errors()
    t0 = time.time()
    uac = start(uac_cmd, subprocess.DEVNULL, open(f'{d}/uac.stderr', 'w'))
    mine = pids_sut | {uac.pid, uas.pid, os.getpid()}
    m0 = machine_ticks(mine)

    # run, sampling SUT memory; hard deadline with escalating signals
    deadline = t0 + sipp_timeout + 15
    esc = [signal.SIGUSR1, signal.SIGUSR1, signal.SIGTERM, signal.SIGKILL]
    rss_peak = pss_peak = 0
    next_pss = 0
    while True:
        r = reap(uac, 0)
        if r is not None:
            break
        if pids_sut:
            rss_peak = max(rss_peak, sum(status_kb(p, 'VmRSS') for p in pids_sut))
            if time.time() >= next_pss:  # smaps_rollup walks page tables: 1/s is enough
                pss_peak = max(pss_peak, sum(pss_kb(p) for p in pids_sut))
                next_pss = time.time() + 1
        if time.time() > deadline:
            if esc:
                sig = esc.pop(0)
                os.kill(uac.pid, sig)
                notes.append(f'UAC deadline: sent {signal.Signals(sig).name}')
            deadline = time.time() + 5
        time.sleep(0.25)
    uac_rc, uac_cpu = r
    wall = time.time() - t0

    t_sut1 = sum(cpu_ticks(p) for p in pids_sut)
    m1 = machine_ticks(mine)
    rcv1 = rcvbuf_errors()
    if pids_sut:
        rss_peak = max(rss_peak, sum(status_kb(p, 'VmRSS') for p in pids_sut))
        pss_peak = max(pss_peak, sum(pss_kb(p) for p in pids_sut))
        row['hwm_kb'] = status_kb(sut.pid, 'VmHWM')
    row['load1_end'] = load1()

    uas_r = stop(uas, SIPP_STOP)
    if sut:
        stop(sut, SUT_STOP)
        stop_stragglers(procs)
        sut_out.close()
        sut_err.close()

    # SIPp counters
    rows = sipp_rows(f'{d}/uac.csv')
    details = []
    if rows:
        L = rows[-1]
        ok, failed = int(L['SuccessfulCall(C)']), int(L['FailedCall(C)'])
        created = int(L['OutgoingCall(C)'])
        row.update(ok=ok, failed=failed, retr_uac=int(L['Retransmissions(C)']),
                   achieved_cps=round(creation_cps(rows, created), 1),
                   inv_200_ms=round(ms(L['ResponseTime1(C)']), 2),
                   concurrent_max=max(int(x['CurrentCall']) for x in rows))
        details += fail_detail('uac', L)
    else:
        row.update(ok=0, failed=n, retr_uac=0, achieved_cps=0, concurrent_max=0)
        notes.append('no UAC statistics')
    urows = sipp_rows(f'{d}/uas.csv')
    if urows:
        U = urows[-1]
        row.update(uas_ok=int(U['SuccessfulCall(C)']), uas_failed=int(U['FailedCall(C)']),
                   retr_uas=int(U['Retransmissions(C)']))
        details += fail_detail('uas', U)
    else:
        row.update(uas_ok=0, uas_failed=0, retr_uas=0)
        notes.append('no UAS statistics')
    row['fail_detail'] = ' '.join(details)

    # CPU, memory
    sut_ms = (t_sut1 - t_sut0) * 1000 / TCK
    others = sum(max(0, v - m0[p]) for p, v in m1.items() if p in m0)
    row.update(wall_s=round(wall, 2), uac_rc=uac_rc,
               uac_cpu_pct=round(100 * uac_cpu / wall, 1),
               uas_cpu_pct=round(100 * uas_r[1] / wall, 1) if uas_r else '',
               others_cpu_pct=round(100 * others / TCK / wall, 1),
               udp_rcvbuf_err=rcv1 - rcv0)
    if sut:
        row.update(sut_cpu_ms=round(sut_ms), sut_cpu_pct=round(100 * sut_ms / 1000 / wall, 1),
                   sut_ms_per_call=round(sut_ms / max(row['ok'], 1), 4),
                   rss_peak_kb=rss_peak, pss_peak_kb=pss_peak)
        conc = row['concurrent_max'] or 0
        if conc and a.hold_ms > 0:
            # fresh SUT per step, so VmHWM is the peak of this step (single process: tollswitch)
            peak = max(rss_peak, row['hwm_kb'] if len(procs) == 1 else 0)
            row['rss_per_call_b'] = round((peak - row['rss_idle_kb']) * 1024 / conc)
            row['pss_per_call_b'] = round((pss_peak - row['pss_idle_kb']) * 1024 / conc)
        # tollswitch writes one line per finished call and a stats line on SIGTERM
        ended = ended200 = 0
        for line in open(f'{d}/sut.out', errors='replace'):
            m = re.match(r'call \S+ ended (\d+)', line)
            if m:
                ended += 1
                ended200 += m.group(1) == '200'
            elif line.startswith('tollswitch stopping:'):
                notes.append(line.strip())
        if ended:
            row.update(sut_ended=ended, sut_ended_200=ended200)
        err = [l for l in open(f'{d}/sut.err', errors='replace').read().splitlines()
               if re.search(r'ERROR|CRIT|ALERT|panic|error', l)]
        if err:
            notes.append(f'sut stderr: {len(err)} error lines, last: {err[-1][:160]}')
    retr = row['retr_uac'] + row['retr_uas']
    passed = (row['failed'] == 0 and row['uas_failed'] == 0 and row['ok'] == n
              and row['achieved_cps'] >= 0.95 * rate and retr <= a.storm_pct / 100 * n)
    row.update(passed=int(passed), clean=int(passed and retr == 0), sut_note='; '.join(notes))
    return row


def write_row(out, row):
    new = not os.path.exists(out) or os.path.getsize(out) == 0
    with open(out, 'a') as f:
        if new:
            f.write('\t'.join(COLUMNS) + '\n')
        f.write('\t'.join(str(row[c]).replace('\t', ' ') for c in COLUMNS) + '\n')


def sweep(a):
    targets = []
    for t in a.target:
        head, _, cmd = t.partition('=')
        name, _, port = head.partition('@')
        targets.append((name, int(port), shlex.split(cmd)))
    rates = [int(x) for x in a.rates.split(',') if x]
    workdir = os.path.dirname(os.path.abspath(a.out))
    active = [t[0] for t in targets]
    for rate in rates:
        for tgt in targets:
            if tgt[0] not in active:
                continue
            row = step(a, tgt, rate, workdir)
            row['top_rate'] = int(rate == rates[-1])
            write_row(a.out, row)
            print(f"{row['target']:>10} hold={a.hold_ms}ms rate={rate:>5} ok={row['ok']} failed={row['failed']}"
                  f" uas_failed={row['uas_failed']} retr={row['retr_uac']}/{row['retr_uas']}"
                  f" achieved={row['achieved_cps']} sut_cpu={row['sut_cpu_pct']}% ms/call={row['sut_ms_per_call']}"
                  f" conc={row['concurrent_max']} rss/call={row['rss_per_call_b']}B"
                  f" load={row['load1_start']} {'PASS' if row['passed'] else 'FAIL'}"
                  f"{' ' + row['fail_detail'] if row['fail_detail'] else ''}"
                  f"{' [' + row['sut_note'] + ']' if row['sut_note'] else ''}", flush=True)
            if not row['passed'] and not a.keep_going:
                active.remove(tgt[0])
            time.sleep(a.pause)
        if not active:
            break


# ---------------------------------------------------------------- report

def report(a):
    with open(a.tsv) as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    order = []
    for r in rows:
        if r['target'] not in order:
            order.append(r['target'])
    holds = sorted({int(r['hold_ms']) for r in rows})
    print('| target | hold s | rate | calls | ok | failed | UAS failed | retrans UAC/UAS | achieved cps | '
          'INVITE→200 ms | concurrent | SUT CPU % | SUT CPU ms/call | SUT RSS idle→peak MB | RSS B/call | '
          'UDP drops | load1 | result |')
    print('|' + '---|' * 18)
    for h in holds:
        for t in order:
            for r in rows:
                if r['target'] != t or int(r['hold_ms']) != h:
                    continue
                res = 'clean' if r['clean'] == '1' else ('pass' if r['passed'] == '1' else 'FAIL')
                if r['fail_detail'] and r['passed'] != '1':
                    res += ' (' + r['fail_detail'] + ')'
                mem = (f"{int(r['rss_idle_kb']) / 1024:.1f}→{max(int(r['rss_peak_kb'] or 0), int(r['hwm_kb'] or 0) if t.startswith('tollswitch') else 0) / 1024:.1f}"
                       if r['rss_idle_kb'] not in ('', '0') else '–')
                print(f"| {t} | {h / 1000:g} | {r['rate']} | {r['calls']} | {r['ok']} | {r['failed']} | {r['uas_failed']} | "
                      f"{r['retr_uac']}/{r['retr_uas']} | {r['achieved_cps']} | {r['inv_200_ms']} | {r['concurrent_max']} | "
                      f"{r['sut_cpu_pct'] or '–'} | {r['sut_ms_per_call'] or '–'} | {mem} | {r['rss_per_call_b'] or '–'} | "
                      f"{r['udp_rcvbuf_err']} | {r['load1_start']} | {res} |")
    print()
    best = {}
    for h in holds:
        for t in order:
            steps = [r for r in rows if r['target'] == t and int(r['hold_ms']) == h]
            # the max is the highest rate passed with no failing lower rate before it
            top = None
            for r in steps:
                if r['passed'] != '1':
                    break
                top = r
            capped = top is not None and top['top_rate'] == '1'
            best[(t, h)] = (int(top['rate']) if top else 0, capped, top)
    print('| hold | ' + ' | '.join(order) + ' | ' + ' | '.join(
        f'{x}/{y}' for x, y in pairs(order)) + ' |')
    print('|' + '---|' * (1 + len(order) + len(pairs(order))))
    for h in holds:
        cells = []
        for t in order:
            v, capped, _ = best[(t, h)]
            cells.append(('≥' if capped else '') + f'{v:,}')
        rat = []
        for x, y in pairs(order):
            vx, cx, _ = best[(x, h)]
            vy, cy, _ = best[(y, h)]
            rat.append(f'{vx / vy:.2f}' + ('' if not (cx or cy) else ' (a bound)') if vy else '–')
        print(f'| {h / 1000:g} s | ' + ' | '.join(cells) + ' | ' + ' | '.join(rat) + ' |')
    print()
    for t in order:
        if t == 'sipp':
            continue
        for h in holds:
            v, _, r = best[(t, h)]
            if r is None:
                print(f'- {t}, hold {h / 1000:g} s: no passing step')
                continue
            line = (f"- {t}, hold {h / 1000:g} s, at {v} cps: CPU {r['sut_cpu_pct']} % of one core, "
                    f"{r['sut_ms_per_call']} CPU-ms per call")
            if h and r['rss_per_call_b']:
                line += (f"; {r['concurrent_max']} concurrent calls, RSS {int(r['rss_idle_kb']) / 1024:.1f} → "
                         f"{max(int(r['rss_peak_kb']), int(r['hwm_kb'] or 0)) / 1024:.1f} MB = "
                         f"{r['rss_per_call_b']} B per call (PSS: {r['pss_per_call_b']} B)")
            print(line)


def pairs(order):
    pref = [('tollswitch', 'kamailio'), ('tollswitch', 'sipp'), ('kamailio', 'sipp'),
            ('tollswitch', 'tollswitch-nobill')]
    return [(x, y) for x, y in pref if x in order and y in order]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('sweep', help='run load steps')
    s.add_argument('--target', action='append', required=True,
                   help='NAME@PORT[=SUT command line]; no command: PORT is the UAS itself (ceiling)')
    s.add_argument('--rates', required=True)
    s.add_argument('--hold-ms', type=int, default=0)
    s.add_argument('--secs', type=float, default=10, help='seconds of call creation per step')
    s.add_argument('--uac-port', type=int, default=5061)
    s.add_argument('--uas-port', type=int, default=5080)
    s.add_argument('--service', default='12125550100', help='called number (routed by the SUT)')
    s.add_argument('--buff', type=int, default=1048576, help='SIPp -buff_size')
    s.add_argument('--storm-pct', type=float, default=1.0, help='max retransmissions, %% of calls')
    s.add_argument('--settle', type=float, default=0.5, help='seconds after the SUT binds')
    s.add_argument('--pause', type=float, default=2, help='seconds between steps')
    s.add_argument('--keep-going', action='store_true')
    s.add_argument('--out', required=True)
    r = sub.add_parser('report', help='markdown from a steps TSV')
    r.add_argument('tsv')
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if a.cmd == 'sweep':
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            sweep(a)
        else:
            report(a)
    finally:
        cleanup()


if __name__ == '__main__':
    main()
