#!/usr/bin/env python3
"""StreamGate side-by-side benchmark orchestrator (loopback only).

Normally started by bench/run.sh, which raises the fd limit, widens the
ephemeral port range and restores sysctls afterwards.  See docs/benchmarks.md.

Targets : direct (client -> backend), streamgate, nginx (stream module), haproxy (mode tcp);
          with --baseline-bin PATH also streamgate-base: the same StreamGate config and flags, run
          with the binary PATH (e.g. a copy of an earlier build), for a before/after in one run.
Workloads:
  bulk1  iperf3 -P 1 -t D                       -> Gbit/s
  bulk4  iperf3 -P 4 -t D                       -> Gbit/s
  rps    redis-benchmark PING_MBULK -c 50 -n N  -> req/s over kept connections
  cps    same with -k 0 (a new connection per request) -> conn/s
  mem    fresh proxy, RSS before/after holding C proven idle connections -> KB/conn
Every proxy measurement also records the proxy's own CPU seconds (utime+stime of
all its processes, from /proc/<pid>/stat) and work per CPU second.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SG_PROJ = os.path.join('src', 'StreamGate', 'StreamGate.csproj')
SG_BIN = os.environ.get('STREAMGATE_BIN') or os.path.join(ROOT, 'artifacts', 'bin', 'StreamGate', 'release', 'streamgate')
NGINX_STREAM_MOD = '/usr/lib/nginx/modules/ngx_stream_module.so'

BASE = 'streamgate-base'  # the --baseline-bin target
ALL_TARGETS = ['direct', 'streamgate', BASE, 'nginx', 'haproxy']
DEFAULT_TARGETS = [t for t in ALL_TARGETS if t != BASE]  # BASE joins by default only with --baseline-bin
ALL_WORKLOADS = ['bulk1', 'bulk4', 'rps', 'cps', 'mem']
TOOLS = {'nginx': 'nginx', 'haproxy': 'haproxy'}
CLK_TCK = os.sysconf('SC_CLK_TCK')

WL = {
    'bulk1': dict(title='Bulk throughput, 1 stream', unit='Gbit/s', wunit='Gbit/CPU-s', higher=True),
    'bulk4': dict(title='Bulk throughput, 4 streams', unit='Gbit/s', wunit='Gbit/CPU-s', higher=True),
    'rps': dict(title='Requests, 50 kept connections', unit='req/s', wunit='req/CPU-s', higher=True),
    'cps': dict(title='New connections (1 request each)', unit='conn/s', wunit='conn/CPU-s', higher=True),
    'mem': dict(title='RSS per idle connection', unit='KB/conn', wunit=None, higher=False),
}


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f'[bench {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc helpers

def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f'/proc/{pid}/stat') as f:
            s = f.read()
    except OSError:
        return None
    # fields after "(comm)": [0]=state(3) [1]=ppid(4) ... [11]=utime(14) [12]=stime(15) [19]=starttime(22)
    return s[s.rfind(')') + 2:].split()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            f = _stat_fields(int(d))
            if f:
                children.setdefault(int(f[1]), []).append(int(d))
    out, stack = [], [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    out = {}
    for p in pids:
        f = _stat_fields(p)
        if f:
            out[p] = int(f[11]) + int(f[12])
    return out


def mem_kb(pids: list[int]) -> tuple[int, int]:
    """(sum VmRSS, sum Pss) in kB over pids."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f'/proc/{p}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        rss += int(line.split()[1])
        except OSError:
            continue
        try:
            with open(f'/proc/{p}/smaps_rollup') as f:
                for line in f:
                    if line.startswith('Pss:'):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def fd_count(pids: list[int]) -> int:
    n = 0
    for p in pids:
        try:
            n += len(os.listdir(f'/proc/{p}/fd'))
        except OSError:
            pass
    return n


def listening(port: int) -> bool:
    want = f'0100007F:{port:04X}'
    for path in ('/proc/net/tcp',):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[1] == want and parts[3] == '0A':
                        return True
                    if parts[1] == f'00000000:{port:04X}' and parts[3] == '0A':
                        return True
        except OSError:
            pass
    return False


# --------------------------------------------------------------------------- processes

REGISTRY: list['Service'] = []


def record_pid(pid: int) -> None:
    state = os.environ.get('BENCH_STATE')
    if not state:
        return
    f = _stat_fields(pid)
    start = f[19] if f else '0'
    with open(os.path.join(state, 'pids'), 'a') as fh:
        fh.write(f'{pid} {start}\n')


class Service:
    def __init__(self, name: str, argv: list[str], workdir: str, cwd: str | None = None):
        self.name = name
        self.logpath = os.path.join(workdir, f'{name}.log')
        self.logf = open(self.logpath, 'ab')
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=cwd or workdir,
                                  start_new_session=True)
        REGISTRY.append(self)
        record_pid(self.p.pid)

    def alive(self) -> bool:
        return self.p.poll() is None

    def pids(self) -> list[int]:
        return [self.p.pid] + descendants(self.p.pid)

    def log_tail(self, n: int = 15) -> str:
        try:
            with open(self.logpath, 'rb') as f:
                lines = f.read().decode(errors='replace').splitlines()
            return '\n'.join(lines[-n:])
        except OSError:
            return ''

    def stop(self) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(8)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(5)
        try:  # leftovers of the group (e.g. nginx workers)
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.logf.close()
        if self in REGISTRY:
            REGISTRY.remove(self)


def stop_all() -> None:
    for s in list(REGISTRY):
        try:
            s.stop()
        except Exception as e:  # noqa: BLE001
            log(f'stop {s.name}: {e}')


class Ports:
    """Fixed range below the (widened) ephemeral range, each port checked free."""

    def __init__(self, base: int):
        self.base = base
        self.next = base

    def get(self) -> int:
        while self.next < self.base + 3000:
            p = self.next
            self.next += 1
            s = socket.socket()
            try:
                s.bind(('127.0.0.1', p))
                return p
            except OSError:
                continue
            finally:
                s.close()
        raise BenchError('no free port')


def wait_listening(port: int, svc: Service | None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return
        if svc is not None and not svc.alive():
            raise BenchError(f'{svc.name} exited (rc={svc.p.returncode}):\n{svc.log_tail()}')
        time.sleep(0.05)
    raise BenchError(f'port {port} not listening after {timeout}s' + (f':\n{svc.log_tail()}' if svc else ''))


def redis_ping(port: int, timeout: float = 2) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.sendall(b'PING\r\n')
            buf = b''
            while not buf.endswith(b'\r\n'):
                chunk = s.recv(64)
                if not chunk:
                    break
                buf += chunk
            return buf == b'+PONG\r\n'
    except OSError:
        return False


def wait_redis(port: int, svc: Service | None, timeout: float = 30) -> None:
    wait_listening(port, svc, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis_ping(port):
            return
        if svc is not None and not svc.alive():
            raise BenchError(f'{svc.name} exited:\n{svc.log_tail()}')
        time.sleep(0.1)
    raise BenchError(f'no PONG through port {port} within {timeout}s' + (f':\n{svc.log_tail()}' if svc else ''))


def redis_info_clients(port: int) -> int | None:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=3) as s:
            s.sendall(b'INFO clients\r\n')
            s.settimeout(3)
            buf = b''
            while b'connected_clients:' not in buf or not buf.endswith(b'\r\n'):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            for line in buf.decode(errors='replace').splitlines():
                if line.startswith('connected_clients:'):
                    return int(line.split(':')[1])
    except (OSError, ValueError):
        pass
    return None


# --------------------------------------------------------------------------- backends & proxies

def start_iperf_server(port: int, workdir: str) -> Service:
    return Service(f'iperf3-server-{port}', ['iperf3', '-s', '-B', '127.0.0.1', '-p', str(port)], workdir)


def start_redis(port: int, workdir: str) -> Service:
    return Service(f'redis-{port}', ['redis-server', '--port', str(port), '--bind', '127.0.0.1',
                                     '--save', '', '--appendonly', 'no', '--maxclients', '20000',
                                     '--protected-mode', 'no', '--daemonize', 'no', '--dir', workdir],
                   workdir)


def streamgate_config_yaml(listen: int) -> str:
    """config.yaml of a standalone StreamGate on 127.0.0.1:listen serving the apisix.yaml beside it."""
    return f"""apisix:
  proxy_mode: stream
  enable_control: false
  stream_proxy:
    tcp:
      - "127.0.0.1:{listen}"
deployment:
  role: data_plane
  role_data_plane:
    config_provider: yaml
"""


def start_proxy(target: str, listen: int, backend: int, workdir: str, nofile: int,
                baseline_bin: str | None = None) -> Service:
    d = os.path.join(workdir, f'{target}-{listen}')
    os.makedirs(d, exist_ok=True)
    if target == 'nginx':
        conf = os.path.join(d, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(f"""load_module {NGINX_STREAM_MOD};
daemon off;
worker_processes auto;
worker_rlimit_nofile {nofile};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections {nofile};
}}
stream {{
    upstream backend {{
        server 127.0.0.1:{backend};
    }}
    server {{
        listen 127.0.0.1:{listen};
        proxy_pass backend;
    }}
}}
""")
        return Service(f'nginx-{listen}', ['nginx', '-p', d + '/', '-c', conf, '-e', f'{d}/error.log'], d)
    if target == 'haproxy':
        conf = os.path.join(d, 'haproxy.cfg')
        maxconn = max(1000, (nofile - 200) // 2)
        with open(conf, 'w') as f:
            f.write(f"""global
    nbthread 2
    maxconn {maxconn}

defaults
    mode tcp
    maxconn {maxconn}
    timeout connect 5s
    timeout client 10m
    timeout server 10m

frontend fe
    bind 127.0.0.1:{listen}
    default_backend be

backend be
    server s1 127.0.0.1:{backend}
""")
        return Service(f'haproxy-{listen}', ['haproxy', '-db', '-f', conf], d)
    if target in ('streamgate', BASE):
        # streamgate-base: identical files and flags, only the executable differs
        exe = SG_BIN if target == 'streamgate' else baseline_bin
        if not exe:
            raise BenchError(f'{BASE} needs --baseline-bin')
        with open(os.path.join(d, 'config.yaml'), 'w') as f:
            f.write(streamgate_config_yaml(listen))
        with open(os.path.join(d, 'apisix.yaml'), 'w') as f:
            f.write(f"""stream_routes:
  - id: 1
    upstream:
      nodes:
        "127.0.0.1:{backend}": 1
      type: roundrobin
#END
""")
        return Service(f'{target}-{listen}', [exe, 'run', '--config', os.path.join(d, 'config.yaml')], d)
    raise ValueError(target)


# --------------------------------------------------------------------------- load generators

def run_iperf(port: int, secs: int, streams: int) -> dict:
    argv = ['iperf3', '-c', '127.0.0.1', '-p', str(port), '-t', str(secs), '-P', str(streams),
            '-J', '--connect-timeout', '5000']
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f'iperf3 timed out after {secs + 30}s') from None
    try:
        j = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise BenchError(f'iperf3 rc={r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}') from None
    if j.get('error'):
        raise BenchError(f'iperf3: {j["error"]}')
    s = j['end']['sum_received']
    return dict(value=s['bits_per_second'] / 1e9, work=s['bytes'] * 8 / 1e9)


def run_redis_bench(port: int, n: int, clients: int, keepalive: bool) -> dict:
    argv = ['redis-benchmark', '-h', '127.0.0.1', '-p', str(port), '-t', 'ping_mbulk',
            '-c', str(clients), '-n', str(n), '--csv']
    if not keepalive:
        argv += ['-k', '0']
    tmo = 240
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=tmo)
    except subprocess.TimeoutExpired:
        raise BenchError(f'redis-benchmark timed out after {tmo}s') from None
    for row in csv.reader(io.StringIO(r.stdout)):
        if row and row[0] == 'PING_MBULK':
            return dict(value=float(row[1]), work=float(n), p50_ms=float(row[4]), p99_ms=float(row[6]))
    err = [ln for ln in r.stderr.splitlines() if 'Keepalive disabled' not in ln]
    raise BenchError(f'redis-benchmark rc={r.returncode}: {r.stdout[-300:]} {" ".join(err)[-300:]}')


async def _open_proven(port: int, n: int, concurrency: int, deadline: float):
    sem = asyncio.Semaphore(concurrency)
    conns: list[asyncio.StreamWriter] = []
    errors: list[str] = []

    async def one():
        async with sem:
            left = deadline - time.monotonic()
            if left <= 0:
                errors.append('deadline')
                return
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection('127.0.0.1', port), min(10, left))
            except (OSError, asyncio.TimeoutError) as e:
                errors.append(f'connect: {e!r}')
                return
            try:
                w.write(b'PING\r\n')
                await w.drain()
                line = await asyncio.wait_for(r.readline(), min(10, max(0.1, deadline - time.monotonic())))
                if line != b'+PONG\r\n':
                    raise BenchError(f'bad reply {line!r}')
                conns.append(w)
            except (OSError, asyncio.TimeoutError, BenchError) as e:
                errors.append(f'ping: {e!r}')
                w.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return conns, errors


async def _close_all(conns: list[asyncio.StreamWriter]) -> None:
    for w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for w in conns), return_exceptions=True)


def idle_conn_memory(port: int, n: int, svc: Service, backend_port: int, time_limit: float) -> dict:
    """Warm up with 50 proven connections, then RSS before / with n proven idle connections."""

    async def main():
        deadline = time.monotonic() + time_limit
        warm, errs = await _open_proven(port, 50, 50, deadline)
        await _close_all(warm)
        if errs:
            raise BenchError(f'warm-up failed: {errs[:3]}')
        await asyncio.sleep(1.0)
        before = mem_kb(svc.pids())
        fds_before = fd_count(svc.pids())
        t0 = time.monotonic()
        conns, errs = await _open_proven(port, n, 256, deadline)
        open_s = time.monotonic() - t0
        try:
            await asyncio.sleep(1.5)  # let the proxy settle
            after = mem_kb(svc.pids())
            fds_after = fd_count(svc.pids())
            backend_clients = redis_info_clients(backend_port)
            if errs:
                raise BenchError(f'{len(conns)}/{n} connections proven; first errors: {errs[:3]}')
        finally:
            await _close_all(conns)
        return before, after, open_s, backend_clients, (fds_after - fds_before) / n

    before, after, open_s, backend_clients, fds_per_conn = asyncio.run(main())
    return dict(value=(after[0] - before[0]) / n, pss_kb_per_conn=(after[1] - before[1]) / n,
                rss_before_kb=before[0], rss_after_kb=after[0],
                pss_before_kb=before[1], pss_after_kb=after[1],
                conns=n, open_s=open_s, backend_clients=backend_clients, fds_per_conn=fds_per_conn)


# --------------------------------------------------------------------------- orchestration

class Bench:
    def __init__(self, args, workdir: str):
        self.a = args
        self.workdir = workdir
        self.ports = Ports(args.port_base)
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.results: dict[str, dict[str, list[dict]]] = {w: {t: [] for t in args.targets} for w in args.workloads}
        self.notes: list[str] = []
        self.load_start = loadavg()
        self.w = max([10] + [len(t) for t in args.targets])  # name column width in progress lines

    def start_proxy(self, t: str, port: int, backend: int) -> Service:
        return start_proxy(t, port, backend, self.workdir, self.nofile, self.a.baseline_bin)

    # one measurement with proxy CPU accounting
    def measure(self, svc: Service | None, fn) -> dict:
        pids = svc.pids() if svc else []
        c0 = cpu_ticks(pids)
        t0 = time.monotonic()
        res = fn()
        res['wall_s'] = time.monotonic() - t0
        if svc:
            c1 = cpu_ticks(svc.pids())
            ticks = sum(c1.get(p, c0.get(p, 0)) - c0.get(p, 0) for p in set(c0) | set(c1))
            res['cpu_s'] = ticks / CLK_TCK
            res['work_per_cpu_s'] = res['work'] / res['cpu_s'] if res['cpu_s'] > 0 else None
        return res

    def start_fronts(self, backend: int, redis: bool) -> dict[str, tuple[Service | None, int]]:
        fronts: dict[str, tuple[Service | None, int]] = {}
        for t in self.a.targets:
            if t == 'direct':
                fronts[t] = (None, backend)
                continue
            port = self.ports.get()
            try:
                svc = self.start_proxy(t, port, backend)
            except (OSError, BenchError) as e:
                log(f'{t}: failed to start: {e}')
                self.notes.append(f'{t} failed to start in front of port {backend}: {str(e).splitlines()[0]}')
                continue
            try:
                (wait_redis if redis else wait_listening)(port, svc)
            except BenchError as e:
                log(f'{t}: failed to start: {e}')
                self.notes.append(f'{t} failed to start in front of port {backend}: {str(e).splitlines()[0]}')
                svc.stop()
                continue
            fronts[t] = (svc, port)
        return fronts

    def run_rounds(self, wl: str, fronts, fn) -> None:
        for r in range(self.a.rounds):
            for t in self.a.targets:
                if t not in fronts:
                    continue
                svc, port = fronts[t]
                if svc is not None and not svc.alive():
                    self.results[wl][t].append(dict(error='proxy process died'))
                    continue
                try:
                    res = self.measure(svc, lambda: fn(port))
                    res['round'] = r + 1
                    extra = f" cpu={res['cpu_s']:.2f}s" if 'cpu_s' in res else ''
                    log(f'{wl:5} round {r + 1} {t:{self.w}} {res["value"]:12.2f} {WL[wl]["unit"]}{extra}')
                except BenchError as e:
                    res = dict(error=str(e), round=r + 1)
                    log(f'{wl:5} round {r + 1} {t:{self.w}} FAILED: {e}')
                self.results[wl][t].append(res)

    def warm(self, fronts, fn, what: str) -> None:
        for t, (svc, port) in fronts.items():
            for attempt in range(2):
                try:
                    fn(port)
                    break
                except BenchError as e:
                    log(f'warm-up {what} {t} attempt {attempt + 1} failed: {e}')
                    time.sleep(1)

    def phase_bulk(self) -> None:
        wls = [w for w in ('bulk1', 'bulk4') if w in self.a.workloads]
        if not wls:
            return
        bport = self.ports.get()
        server = start_iperf_server(bport, self.workdir)
        wait_listening(bport, server)
        fronts = self.start_fronts(bport, redis=False)
        try:
            log('warm-up iperf3 (1 s per target, not recorded)')
            self.warm(fronts, lambda p: run_iperf(p, 1, 1), 'iperf3')
            for wl in wls:
                streams = 1 if wl == 'bulk1' else 4
                self.run_rounds(wl, fronts, lambda p, s=streams: run_iperf(p, self.a.duration, s))
        finally:
            for svc, _ in fronts.values():
                if svc:
                    svc.stop()
            server.stop()

    def phase_redis(self, redis_port: int) -> None:
        wls = [w for w in ('rps', 'cps') if w in self.a.workloads]
        if not wls:
            return
        fronts = self.start_fronts(redis_port, redis=True)
        try:
            log('warm-up redis-benchmark (not recorded)')
            self.warm(fronts, lambda p: run_redis_bench(p, self.a.requests // 10, 50, True), 'rps')
            self.warm(fronts, lambda p: run_redis_bench(p, self.a.new_conns // 10, 50, False), 'cps')
            for wl in wls:
                if wl == 'rps':
                    self.run_rounds(wl, fronts, lambda p: run_redis_bench(p, self.a.requests, 50, True))
                else:
                    self.run_rounds(wl, fronts, lambda p: run_redis_bench(p, self.a.new_conns, 50, False))
        finally:
            for svc, _ in fronts.values():
                if svc:
                    svc.stop()

    def phase_mem(self, redis_port: int) -> None:
        if 'mem' not in self.a.workloads:
            return
        n = self.a.conns
        for r in range(self.a.rounds):
            for t in self.a.targets:
                if t == 'direct':
                    continue
                port = self.ports.get()
                try:
                    svc = self.start_proxy(t, port, redis_port)
                except (OSError, BenchError) as e:
                    log(f'mem   round {r + 1} {t:{self.w}} FAILED to start: {e}')
                    self.results['mem'][t].append(dict(error=f'failed to start: {e}', round=r + 1))
                    continue
                try:
                    wait_redis(port, svc)
                    res = idle_conn_memory(port, n, svc, redis_port, self.a.mem_timeout)
                    res['round'] = r + 1
                    log(f'mem   round {r + 1} {t:{self.w}} {res["value"]:8.2f} KB/conn (RSS {res["rss_before_kb"] / 1024:.1f} -> '
                        f'{res["rss_after_kb"] / 1024:.1f} MB, {n} conns opened in {res["open_s"]:.1f}s, '
                        f'{res["fds_per_conn"]:.2f} fds/conn, backend sees {res["backend_clients"]} clients)')
                except (BenchError, asyncio.TimeoutError) as e:
                    res = dict(error=str(e) or repr(e), round=r + 1)
                    log(f'mem   round {r + 1} {t:{self.w}} FAILED: {res["error"]}')
                finally:
                    svc.stop()
                self.results['mem'][t].append(res)
                time.sleep(0.5)

    def run(self) -> None:
        self.phase_bulk()
        if {'rps', 'cps', 'mem'} & set(self.a.workloads):
            rport = self.ports.get()
            redis = start_redis(rport, self.workdir)
            try:
                wait_redis(rport, redis)
                self.phase_redis(rport)
                self.phase_mem(rport)
            finally:
                redis.stop()


# --------------------------------------------------------------------------- report

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit: str | None = None) -> str:
    if v is None:
        return 'n/a'
    if unit in ('Gbit/s', 'Gbit/CPU-s', 'KB/conn', 'CPU-s'):
        return f'{v:.2f}'
    if abs(v) >= 1000:
        return f'{v:,.0f}'
    return f'{v:.2f}'


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return 'n/a'
    return f'{a / b:.2f}×'


def cmd_out(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return 'n/a'


def loadavg() -> str:
    try:
        with open('/proc/loadavg') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return 'n/a'


def ver(argv: list[str], pattern: str) -> str:
    m = re.search(pattern, cmd_out(argv))
    return m.group(1) if m else 'n/a'


def built_from(exe: str) -> str:
    """The commit in the assembly's informational version ("1.0.0+<sha>", set by the .NET SDK from git) of the
    program's main assembly next to the apphost (streamgate -> streamgate.dll); 'unknown' if not found."""
    dll = exe if exe.endswith('.dll') else exe + '.dll'
    try:
        with open(dll, 'rb') as f:
            m = re.search(rb'\d+\.\d+\.\d+[^+\x00]*\+([0-9a-f]{7,40})', f.read())
        return m.group(1).decode()[:7] if m else 'unknown'
    except OSError:
        return 'unknown'


def show_path(path: str) -> str:
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def environment(args, bench: Bench) -> list[str]:
    cpu = 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass

    def sysctl(name: str) -> str:
        try:
            with open('/proc/sys/' + name.replace('.', '/')) as f:
                return ' '.join(f.read().split())
        except OSError:
            return 'n/a'

    commit = cmd_out(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'])
    if 'fatal' in commit or 'unknown' in commit or 'ambiguous' in commit:
        commit = 'no commit yet'
    try:
        dirty = subprocess.run(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src'],
                               capture_output=True, text=True, timeout=20).stdout.strip()
        if dirty:
            commit += ' + uncommitted changes in src/'
    except (OSError, subprocess.TimeoutExpired):
        pass
    tools = ', '.join([
        'nginx ' + ver(['nginx', '-v'], r'nginx/(\S+)'),
        'HAProxy ' + ver(['haproxy', '-v'], r'version (\S+)'),
        'redis ' + ver(['redis-server', '--version'], r'v=(\S+)'),
        'iperf3 ' + ver(['iperf3', '--version'], r'iperf (\S+)'),
        '.NET SDK ' + cmd_out(['dotnet', '--version']),
    ])
    lines = [
        f'- Date: {datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}',
        f'- Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, loopback 127.0.0.1 only; '
        f'load generators, backends and proxies share the same {os.cpu_count()} cores',
        f'- Tools: {tools}; StreamGate commit: {commit}',
        f'- Settings: rounds={args.rounds}, iperf3 -t {args.duration}, rps -n {args.requests} -c 50, '
        f'cps -n {args.new_conns} -c 50 -k 0, idle conns={args.conns}; RLIMIT_NOFILE={bench.nofile}; '
        f'tcp_tw_reuse={sysctl("net.ipv4.tcp_tw_reuse")}, ip_local_port_range={sysctl("net.ipv4.ip_local_port_range")}',
        f'- Load average (1/5/15 min) at start: {bench.load_start}, at end: {loadavg()} '
        f'(anything else running on the machine adds noise)',
        f'- Proxy configs: nginx worker_processes auto ({os.cpu_count()}), haproxy nbthread 2, '
        f'StreamGate defaults ({os.path.relpath(SG_BIN, ROOT) if SG_BIN.startswith(ROOT) else SG_BIN})',
    ]
    if BASE in args.targets:
        lines.append(f'- Before/after: streamgate = {show_path(SG_BIN)} (assembly built from {built_from(SG_BIN)}), '
                     f'{BASE} = {show_path(args.baseline_bin)} (assembly built from {built_from(args.baseline_bin)}); '
                     f'same config and flags, only the binary differs')
    return lines


def report(args, bench: Bench) -> str:
    R = bench.results
    targets = args.targets
    L: list[str] = []
    L.append(f'## StreamGate benchmark — {datetime.date.today().isoformat()}')
    L.append('')
    L += environment(args, bench)
    L.append('')
    L.append('Medians over rounds. Ratio columns are StreamGate ÷ other; for throughput and rates '
             '>1 favours StreamGate, for memory and CPU seconds <1 favours StreamGate.')
    has_sg = 'streamgate' in targets
    has_base = BASE in targets
    if has_base:
        L[-1] += (f' SG-base/… columns are the same ratios for {BASE} (the --baseline-bin binary); '
                  f'SG/SG-base is streamgate ÷ {BASE}, i.e. this build ÷ the baseline: '
                  f'>1 for rates and work per CPU-second, <1 for memory means this build is better.')
    L.append('')

    def medv(w, t, key='value'):
        return med([x.get(key) for x in R[w].get(t, []) if 'error' not in x])

    others = [t for t in ('nginx', 'haproxy') if t in targets]
    # (column label, numerator target, denominator target)
    ratios = [(f'SG/{t}', 'streamgate', t) for t in others] if has_sg else []
    if has_base:
        ratios += [(f'SG-base/{t}', BASE, t) for t in others]
        if has_sg:
            ratios.append(('SG/SG-base', 'streamgate', BASE))

    perf = [w for w in args.workloads if w != 'mem']
    if perf:
        hdr = ['Workload', 'Unit'] + targets + [lbl for lbl, _, _ in ratios]
        L.append('### Throughput and rates')
        L.append('')
        L.append('| ' + ' | '.join(hdr) + ' |')
        L.append('|' + '|'.join(['---'] * 2 + ['---:'] * (len(hdr) - 2)) + '|')
        for w in perf:
            u = WL[w]['unit']
            row = [WL[w]['title'], u] + [fmt(medv(w, t), u) for t in targets]
            row += [ratio(medv(w, a), medv(w, b)) for _, a, b in ratios]
            L.append('| ' + ' | '.join(row) + ' |')
        L.append('')
        proxies = [t for t in targets if t != 'direct']
        if proxies:
            L.append('### Proxy CPU cost (proxy processes only, utime+stime)')
            L.append('')
            hdr = ['Workload'] + [f'{t} CPU-s' for t in proxies] + [f'{t} work/CPU-s' for t in proxies] \
                + [f'{lbl} work/CPU-s' for lbl, _, _ in ratios]
            L.append('| ' + ' | '.join(hdr) + ' |')
            L.append('|' + '|'.join(['---'] + ['---:'] * (len(hdr) - 1)) + '|')
            for w in perf:
                wu = WL[w]['wunit']
                row = [f'{WL[w]["title"]} ({wu})']
                row += [fmt(medv(w, t, 'cpu_s'), 'CPU-s') for t in proxies]
                row += [fmt(medv(w, t, 'work_per_cpu_s'), wu) for t in proxies]
                row += [ratio(medv(w, a, 'work_per_cpu_s'), medv(w, b, 'work_per_cpu_s')) for _, a, b in ratios]
                L.append('| ' + ' | '.join(row) + ' |')
            L.append('')
            L.append('CPU-s = proxy CPU seconds consumed during one measurement (iperf3: a fixed duration; '
                     'redis-benchmark: a fixed request count). work = Gbit moved, requests served or connections handled.')
            L.append('')

    if 'mem' in args.workloads:
        proxies = [t for t in targets if t != 'direct']
        L.append(f'### Memory: {args.conns} idle proven connections, fresh process each round')
        L.append('')
        mem_cols = (['streamgate'] if has_sg or not has_base else []) + ([BASE] if has_base else [])
        lbl = {'streamgate': 'SG', BASE: 'SG-base'}
        L.append('| Proxy | RSS idle (MB) | RSS with conns (MB) | RSS KB/conn | PSS KB/conn | fds/conn | '
                 + ' | '.join(f'{lbl[c]}/this (RSS KB/conn)' for c in mem_cols) + ' |')
        L.append('|---|---:|---:|---:|---:|---:|' + '---:|' * len(mem_cols))
        for t in proxies:
            b = medv('mem', t, 'rss_before_kb')
            a = medv('mem', t, 'rss_after_kb')
            cells = [ratio(medv('mem', c), medv('mem', t)) if t != c and c in targets else '—' for c in mem_cols]
            L.append(f'| {t} | {fmt(b / 1024 if b else None, "KB/conn")} | {fmt(a / 1024 if a else None, "KB/conn")} | '
                     f'{fmt(medv("mem", t), "KB/conn")} | {fmt(medv("mem", t, "pss_kb_per_conn"), "KB/conn")} | '
                     f'{fmt(medv("mem", t, "fds_per_conn"), "KB/conn")} | ' + ' | '.join(cells) + ' |')
        L.append('')
        L.append('RSS/PSS summed over all processes of the proxy (nginx master + workers). '
                 'KB/conn = (with − idle) ÷ connections; each connection carries a proxied client and upstream socket. '
                 'fds/conn = open file descriptors added per connection (kernel socket/pipe buffers are not in RSS).')
        L.append('')

    if has_sg and has_base:
        L.append(f'### streamgate vs {BASE} (this build ÷ baseline, medians)')
        L.append('')
        for w in args.workloads:
            if w == 'mem':
                L.append(f'- {WL[w]["title"]}: {fmt(medv(w, "streamgate"), WL[w]["unit"])} vs '
                         f'{fmt(medv(w, BASE), WL[w]["unit"])} {WL[w]["unit"]} = {ratio(medv(w, "streamgate"), medv(w, BASE))} '
                         f'(<1 = less memory)')
                continue
            wu = WL[w]['wunit']
            L.append(f'- {WL[w]["title"]}: {fmt(medv(w, "streamgate"), WL[w]["unit"])} vs '
                     f'{fmt(medv(w, BASE), WL[w]["unit"])} {WL[w]["unit"]} = {ratio(medv(w, "streamgate"), medv(w, BASE))}; '
                     f'per proxy CPU-second {fmt(medv(w, "streamgate", "work_per_cpu_s"), wu)} vs '
                     f'{fmt(medv(w, BASE, "work_per_cpu_s"), wu)} {wu} = '
                     f'{ratio(medv(w, "streamgate", "work_per_cpu_s"), medv(w, BASE, "work_per_cpu_s"))}')
        L.append('')
        L.append('Both binaries ran side by side in the same rounds, in front of the same backend; the spread between '
                 'rounds (below) is the noise floor for this comparison.')
        L.append('')

    L.append('### Per-round values')
    L.append('')
    for w in args.workloads:
        parts = []
        for t in targets:
            xs = R[w].get(t, [])
            if not xs:
                continue
            vals = ' / '.join('ERR' if 'error' in x else fmt(x['value'], WL[w]['unit']) for x in xs)
            cpu = ''
            if any('cpu_s' in x for x in xs):
                cpu = ' (CPU-s ' + ' / '.join(fmt(x.get('cpu_s'), 'CPU-s') for x in xs) + ')'
            parts.append(f'{t}: {vals}{cpu}')
        if parts:
            L.append(f'- {w} [{WL[w]["unit"]}]: ' + '; '.join(parts))
    L.append('')
    errs = [(w, t, x['round'], x['error']) for w in args.workloads for t in targets
            for x in R[w].get(t, []) if 'error' in x]
    if errs or bench.notes:
        L.append('### Failures and notes')
        L.append('')
        for n in bench.notes:
            L.append(f'- {n}')
        for w, t, r, e in errs:
            L.append(f'- {w} round {r} {t}: {e.splitlines()[0][:300]}')
        L.append('')
    return '\n'.join(L)


# --------------------------------------------------------------------------- main

def build_streamgate(args) -> str | None:
    """Returns None when usable, else the reason to skip."""
    if not args.no_build:
        if not shutil.which('dotnet'):
            return 'dotnet not found'
        log('building StreamGate: dotnet build -c Release ' + SG_PROJ)
        logpath = os.path.join(args.results_dir, 'build.log')
        os.makedirs(args.results_dir, exist_ok=True)
        try:
            with open(logpath, 'w') as lf:
                r = subprocess.run(['dotnet', 'build', '-c', 'Release', SG_PROJ], cwd=ROOT,
                                   stdout=lf, stderr=subprocess.STDOUT, timeout=900)
        except subprocess.TimeoutExpired:
            return f'build timed out (log: {logpath})'
        if r.returncode != 0:
            with open(logpath) as lf:
                tail = [ln for ln in lf.read().splitlines() if 'error' in ln][-5:]
            return f'build failed rc={r.returncode} (log: {logpath}): ' + ' | '.join(tail)[:600]
    if not os.access(SG_BIN, os.X_OK):
        return f'binary {os.path.relpath(SG_BIN, ROOT)} missing'
    return None


def parse_args(argv):
    p = argparse.ArgumentParser(prog='bench/run.sh', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=None, help='rounds per workload (default 3, --quick: 1)')
    p.add_argument('--quick', action='store_true', help='smoke run: 1 round, short durations')
    p.add_argument('--only', default=None,
                   help='targets, comma separated: ' + ','.join(ALL_TARGETS) + ' (default: all; '
                        + BASE + ' only with --baseline-bin)')
    p.add_argument('--workloads', default=','.join(ALL_WORKLOADS), help='comma separated: ' + ','.join(ALL_WORKLOADS))
    p.add_argument('--duration', type=int, default=None, help='iperf3 seconds per run (default 5, quick 2)')
    p.add_argument('--requests', type=int, default=None, help='rps: requests per run (default 200000, quick 50000)')
    p.add_argument('--new-conns', type=int, default=None, help='cps: requests (= new connections) per run (default 20000, quick 5000)')
    p.add_argument('--conns', type=int, default=None, help='mem: idle connections (default 10000, capped by fd limit; quick 2000)')
    p.add_argument('--mem-timeout', type=float, default=120, help='mem: time limit to open+prove connections (s)')
    p.add_argument('--port-base', type=int, default=7100, help='first port to try for listeners (default 7100)')
    p.add_argument('--no-build', action='store_true', help='do not run dotnet build; use the existing binary')
    p.add_argument('--baseline-bin', metavar='PATH', default=None,
                   help=f'add target {BASE}: same config and flags as streamgate, but run with the streamgate '
                        'executable PATH (e.g. a copy of an earlier artifacts/bin/StreamGate/release/ folder); '
                        'the report adds its ratios and "SG/SG-base" (this build ÷ baseline). Never built.')
    p.add_argument('--results-dir', default=os.path.join(HERE, 'results'))
    a = p.parse_args(argv)
    q = a.quick
    a.rounds = a.rounds or (1 if q else 3)
    a.duration = a.duration or (2 if q else 5)
    a.requests = a.requests or (50000 if q else 200000)
    a.new_conns = a.new_conns or (5000 if q else 20000)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # a single-process proxy holds 2 fds per proxied connection (client + upstream)
    cap = max(500, (nofile - 1000) // 2 // 500 * 500)
    want = a.conns or (2000 if q else 10000)
    if want > cap:
        log(f'mem: {want} connections need ~{2 * want + 1000} fds per proxy process but RLIMIT_NOFILE is {nofile}; using {cap}')
        want = cap
    a.conns = want
    if a.baseline_bin:
        a.baseline_bin = os.path.abspath(os.path.expanduser(a.baseline_bin))
    if a.only is None:
        a.only = ','.join(ALL_TARGETS if a.baseline_bin else DEFAULT_TARGETS)
    a.targets = [t.strip() for t in a.only.split(',') if t.strip()]
    a.workloads = [w.strip() for w in a.workloads.split(',') if w.strip()]
    for t in a.targets:
        if t not in ALL_TARGETS:
            p.error(f'unknown target {t}')
        if t == BASE and not a.baseline_bin:
            p.error(f'target {BASE} needs --baseline-bin PATH (a streamgate executable)')
    for w in a.workloads:
        if w not in ALL_WORKLOADS:
            p.error(f'unknown workload {w}')
    a.targets = [t for t in ALL_TARGETS if t in a.targets]  # canonical order
    a.workloads = [w for w in ALL_WORKLOADS if w in a.workloads]
    return a


def main(argv) -> int:
    a = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    needed = set()
    if {'bulk1', 'bulk4'} & set(a.workloads):
        needed |= {'iperf3'}
    if {'rps', 'cps', 'mem'} & set(a.workloads):
        needed |= {'redis-server', 'redis-benchmark'}
    missing = [t for t in sorted(needed) if not shutil.which(t)]
    if missing:
        log(f'missing tools: {missing}')
        return 2
    skipped = []
    for t in list(a.targets):
        why = None
        if t in TOOLS and not shutil.which(TOOLS[t]):
            why = f'{TOOLS[t]} not installed'
        elif t == 'nginx' and not os.path.exists(NGINX_STREAM_MOD):
            why = f'{NGINX_STREAM_MOD} missing (apt-get install libnginx-mod-stream)'
        elif t == 'streamgate':
            why = build_streamgate(a)
        elif t == BASE:
            if not os.path.isfile(a.baseline_bin) or not os.access(a.baseline_bin, os.X_OK):
                why = f'--baseline-bin {a.baseline_bin} is not an executable file'
            elif not a.baseline_bin.endswith('.dll') and not os.path.exists(a.baseline_bin + '.dll'):
                log(f'warning: no {os.path.basename(a.baseline_bin)}.dll next to --baseline-bin; an apphost needs '
                    'its whole folder (copy all of artifacts/bin/StreamGate/release/, not just the executable)')
            elif os.path.realpath(a.baseline_bin) == os.path.realpath(SG_BIN):
                log(f'warning: --baseline-bin is the same file as the streamgate binary ({SG_BIN}); '
                    'the build step may have overwritten it, so copy the baseline folder elsewhere first')
        if why:
            log(f'SKIPPING target {t}: {why}')
            skipped.append(f'target {t} skipped: {why}')
            a.targets.remove(t)
    if not a.targets:
        log('no targets left')
        return 2

    workdir = os.environ.get('BENCH_STATE') or tempfile.mkdtemp(prefix='streamgate-bench.')
    workdir = os.path.join(workdir, 'work')
    os.makedirs(workdir, exist_ok=True)
    bench = Bench(a, workdir)
    bench.notes += skipped
    log(f'targets={a.targets} workloads={a.workloads} rounds={a.rounds} nofile={bench.nofile} idle-conns={a.conns}')

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f'signal {signum}')

    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    try:
        bench.run()
    except KeyboardInterrupt:
        log('interrupted; stopping everything')
        stop_all()
        return 130
    finally:
        stop_all()
    log(f'total bench time {time.monotonic() - t0:.0f}s')

    md = report(a, bench)
    os.makedirs(a.results_dir, exist_ok=True)
    with open(os.path.join(a.results_dir, 'latest.md'), 'w') as f:
        f.write(md + '\n')
    with open(os.path.join(a.results_dir, 'latest.json'), 'w') as f:
        json.dump(dict(args={k: v for k, v in vars(a).items()}, results=bench.results, notes=bench.notes), f, indent=1)
    print(md)
    log(f'written {os.path.relpath(os.path.join(a.results_dir, "latest.md"), ROOT)} (+ latest.json)')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
