#!/usr/bin/env python3
"""StreamGate admin API benchmark (loopback, python3 stdlib only).

Starts the gateway in traditional mode (admin API + embedded SQLite store) in a temporary folder, two tiny TCP
backends that each write a marker ("A\\n" / "B\\n") and close, and measures:

  (a) write-to-traffic latency: PUT one route, alternating between the two backends, then poll new TCP
      connections through the gateway until one reads the new marker; time from sending the PUT. --writes times.
  (b) applying many routes: PUT --routes routes (each matching its own 10.x.y.z client address, so none matches
      loopback) from --clients concurrent admin clients, then one catch-all route; report the write time, and the
      time from the last acknowledgement until the control API (/v1/config) serves that revision with all routes.
  (c) matching cost: --conns sequential connections (connect, read the marker, close) through the gateway with
      1 route, and again with --routes + 1 routes (the catch-all last, so every connection walks the table);
      also straight to the backend as the floor. --rounds rounds each, median reported.

Prints a markdown report and writes it to bench/results/admin-latest.md (bench/results/ is git-ignored).

  python3 bench/admin.py                 # build (dotnet build -c Release), then run everything
  python3 bench/admin.py --no-build      # use artifacts/bin/StreamGate/release/streamgate as it is
  python3 bench/admin.py --quick         # 200 writes, 2,000 routes, 500 connections x 3 rounds
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SG_PROJ = os.path.join('src', 'StreamGate', 'StreamGate.csproj')
SG_BIN = os.environ.get('STREAMGATE_BIN') or os.path.join(ROOT, 'artifacts', 'bin', 'StreamGate', 'release', 'streamgate')
ADMIN_KEY = 'bench-admin-key-0123456789'
ROUTES = '/apisix/admin/stream_routes/'

PROCS: list[subprocess.Popen] = []


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f'[admin-bench {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def serve_marker(marker: str) -> None:
    """Backend mode (a child process): accept, write the marker, close; prints its port first."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(4096)
    print(srv.getsockname()[1], flush=True)
    data = (marker + '\n').encode()
    while True:
        conn, _ = srv.accept()
        try:
            conn.sendall(data)
        except OSError:
            pass
        conn.close()


def start_backend(marker: str) -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--serve-marker', marker],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    PROCS.append(p)
    line = p.stdout.readline()
    if not line.strip().isdigit():
        raise BenchError(f'backend {marker} did not start')
    return p, int(line)


class Gateway:
    def __init__(self, workdir: str, proxy: int, admin: int, control: int):
        self.workdir = workdir
        self.proxy, self.admin, self.control = proxy, admin, control
        cfg = os.path.join(workdir, 'config.yaml')
        with open(cfg, 'w') as f:
            f.write(f'''apisix:
  proxy_mode: stream
  stream_proxy:
    tcp: ["127.0.0.1:{proxy}"]
  control: {{ip: 127.0.0.1, port: {control}}}
deployment:
  role: traditional
  role_traditional: {{config_provider: sqlite}}
  sqlite: {{path: data/streamgate.db}}
  admin:
    admin_key: [{{name: admin, key: {ADMIN_KEY}, role: admin}}]
    admin_listen: {{ip: 127.0.0.1, port: {admin}}}
''')
        self.lines: list[str] = []
        self.started = threading.Event()
        self.p = subprocess.Popen([SG_BIN, 'run', '--config', cfg], cwd=workdir, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, text=True)
        PROCS.append(self.p)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.started.wait(30) or self.p.poll() is not None:
            raise BenchError('gateway did not start:\n' + '\n'.join(self.lines[-20:]))

    def _drain(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line.rstrip())
            if len(self.lines) > 2000:
                del self.lines[:1000]
            if 'started with' in line:
                self.started.set()

    def rss_kb(self) -> int:
        with open(f'/proc/{self.p.pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0


def stop_all() -> None:
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
    PROCS.clear()


# --------------------------------------------------------------------------- clients

class Admin:
    """One keep-alive HTTP/1.1 connection to the admin API."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        data = None if body is None else json.dumps(body).encode()
        headers = {'X-API-KEY': ADMIN_KEY}
        if data is not None:
            headers['Content-Type'] = 'application/json'
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError('unreachable')

    def put(self, path: str, body: dict, ok=(200, 201)) -> int:
        status, reply = self.request('PUT', path, body)
        if status not in ok:
            raise BenchError(f'PUT {path}: {status} {reply}')
        return status


def control_config(port: int) -> dict:
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        c.request('GET', '/v1/config')
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def read_marker(port: int) -> bytes:
    """One connection: connect, read to the end (the backend writes its marker and closes), close."""
    with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
        chunks = []
        while True:
            b = s.recv(64)
            if not b:
                return b''.join(chunks)
            chunks.append(b)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# --------------------------------------------------------------------------- measurements

def write_to_traffic(gw: Gateway, admin: Admin, backends: dict[str, int], writes: int, timeout: float) -> dict:
    """(a): each PUT flips route 'lat' between backend A and B; poll new connections until the new marker shows."""
    admin.put(ROUTES + 'lat', {'upstream': {'nodes': {f'127.0.0.1:{backends["A"]}': 1}}})
    deadline = time.monotonic() + 15
    while read_marker(gw.proxy) != b'A\n':
        if time.monotonic() > deadline:
            raise BenchError('route "lat" never served backend A')
    totals, acks, polls, timeouts = [], [], [], 0
    for i in range(writes):
        marker = 'B' if i % 2 == 0 else 'A'
        want = (marker + '\n').encode()
        t0 = time.perf_counter()
        admin.put(ROUTES + 'lat', {'upstream': {'nodes': {f'127.0.0.1:{backends[marker]}': 1}}})
        t_ack = time.perf_counter()
        n = 0
        while True:
            n += 1
            got = read_marker(gw.proxy)
            now = time.perf_counter()
            if got == want:
                break
            if now - t0 > timeout:
                timeouts += 1
                break
        totals.append((now - t0) * 1000)
        acks.append((t_ack - t0) * 1000)
        polls.append(n)
    return {
        'writes': writes, 'timeouts': timeouts,
        'p50': pct(totals, 50), 'p90': pct(totals, 90), 'p99': pct(totals, 99), 'max': max(totals),
        'ack_p50': pct(acks, 50), 'ack_p99': pct(acks, 99),
        'first_poll_hit': sum(1 for n in polls if n == 1), 'polls_p99': pct([float(n) for n in polls], 99),
    }


def conn_rate(port: int, n: int, want: bytes) -> float:
    """(c): n sequential connections; returns connections per second."""
    t0 = time.perf_counter()
    for _ in range(n):
        got = read_marker(port)
        if got != want:
            raise BenchError(f'connection through port {port} read {got!r}, expected {want!r}')
    return n / (time.perf_counter() - t0)


def matching_cost(paths: dict[str, int], conns: int, rounds: int) -> dict[str, list[float]]:
    """(c): every path warmed up, then measured in interleaved rounds (so drift hits all alike)."""
    for port in paths.values():
        conn_rate(port, conns, b'A\n')
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, port in paths.items():
            rates[name].append(conn_rate(port, conns, b'A\n'))
    return rates


def route_match(i: int, match: str) -> dict:
    """Route i's match field: one no loopback connection meets."""
    if match == 'server_port':
        return {'server_port': i}
    address = f'10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}'
    return {match: address}


def apply_many(gw: Gateway, admin: Admin, backend_a: int, routes: int, clients: int, match: str) -> dict:
    """(b): --routes routes from concurrent clients, then the catch-all; write time and apply lag."""
    admin.put('/apisix/admin/upstreams/bench', {'nodes': {f'127.0.0.1:{backend_a}': 1}})
    local = threading.local()

    def put(i: int) -> None:
        if not hasattr(local, 'admin'):
            local.admin = Admin(gw.admin)
        local.admin.put(ROUTES + f'r{i}', {**route_match(i, match), 'upstream_id': 'bench'}, ok=(201,))

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(put, i) for i in range(1, routes + 1)]:
            f.result()
    # The catch-all last: created after every other route, so a loopback connection is tried against all of them.
    admin.put(ROUTES + 'catch-all', {'upstream_id': 'bench'}, ok=(201,))
    t_written = time.perf_counter()
    status, reply = admin.request('GET', ROUTES + 'catch-all')
    if status != 200:
        raise BenchError(f'GET catch-all: {status} {reply}')
    revision = reply['modifiedIndex']
    deadline = t_written + 120
    polls = 0
    while True:
        cfg = control_config(gw.control)
        polls += 1
        if cfg.get('revision', -1) >= revision and cfg.get('stream_routes') == routes + 1:
            t_applied = time.perf_counter()
            break
        if time.perf_counter() > deadline:
            raise BenchError(f'control API still at {cfg} two minutes after the last write (revision {revision})')
        time.sleep(0.001)
    return {
        'routes': routes + 1, 'clients': clients, 'match': match, 'revision': revision, 'exact_revision': cfg['revision'] == revision,
        'write_s': t_written - t0, 'writes_per_s': (routes + 1) / (t_written - t0),
        'apply_ms': (t_applied - t_written) * 1000, 'polls': polls,
    }


# --------------------------------------------------------------------------- report

def environment() -> list[str]:
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            names = [ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')]
        cpu = f'{len(names)} x {names[0]}' if names else f'{os.cpu_count()} CPUs'
    except OSError:
        pass
    try:
        dotnet = subprocess.run(['dotnet', '--version'], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        dotnet = '?'
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--', 'src'], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        commit += ' (+ uncommitted changes in src/)' if dirty else ''
    except (OSError, subprocess.TimeoutExpired):
        commit = '?'
    return [
        f'- date: {datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}',
        f'- machine: {cpu}, {platform.system()} {platform.release()}, load before the run {os.getloadavg()[0]:.2f}',
        f'- streamgate: `{os.path.relpath(SG_BIN, ROOT)}` at commit {commit}; dotnet SDK {dotnet}; python {platform.python_version()}',
        f'- command: `{" ".join(["python3 bench/admin.py"] + sys.argv[1:])}`',
    ]


MATCH_NOTES = {
    'remote_addr': 'The route table files remote_addr routes in a hash table per prefix length, so a loopback connection '
                   'costs one lookup that finds nothing before it reaches the catch-all.',
    'server_port': 'The route table files server_port routes in a hash table by port, so a connection costs one lookup '
                   'that finds nothing before it reaches the catch-all.',
    'server_addr': 'The route table files server_addr routes (without remote_addr) in a hash table per prefix length, '
                   'so a connection costs one lookup that finds nothing before it reaches the catch-all.',
}


def report(args, a: dict, b: dict, c: dict[str, list[float]], rss: tuple[int, int]) -> str:
    us = lambda rate: 1e6 / rate  # noqa: E731
    out = ['# StreamGate admin API benchmark', ''] + environment() + ['']
    out += ['## (a) Write-to-traffic latency', '',
            f'{a["writes"]} PUTs of one route, alternating its upstream between two backends; each time measured from sending '
            'the PUT until a new TCP connection through the gateway reads the new backend\'s marker.', '',
            '| | p50 | p90 | p99 | max |', '|---|---|---|---|---|',
            f'| PUT to new behaviour seen (ms) | {a["p50"]:.2f} | {a["p90"]:.2f} | {a["p99"]:.2f} | {a["max"]:.2f} |',
            f'| PUT acknowledged (ms) | {a["ack_p50"]:.2f} | | {a["ack_p99"]:.2f} | |', '',
            f'The first connection after the acknowledgement already saw the change {a["first_poll_hit"]} times out of {a["writes"]} '
            f'(p99 connections polled: {a["polls_p99"]:.0f}); {a["timeouts"]} writes were never seen within {args.timeout:.0f} s.', '']
    out += ['## (b) Applying many routes', '',
            '| Routes | Each matches on | Admin clients | Write time | Writes/s | Last acknowledgement to applied (control API) |',
            '|---|---|---|---|---|---|',
            f'| {b["routes"]:,} | {b["match"]} | {b["clients"]} | {b["write_s"]:.1f} s | {b["writes_per_s"]:.0f} | {b["apply_ms"]:.1f} ms |', '',
            f'Applied = `/v1/config` shows revision {b["revision"]} (the catch-all\'s, written last) and stream_routes {b["routes"]:,}'
            f'{"" if b["exact_revision"] else " (revision was already past it)"}. '
            f'Gateway RSS: {rss[0] / 1024:.0f} MB before these writes, {rss[1] / 1024:.0f} MB after.', '']
    med = {name: statistics.median(v) for name, v in c.items()}
    diff = us(med['many']) - us(med['one'])
    out += ['## (c) Route matching cost', '',
            f'{args.conns:,} sequential connections (connect, read the backend\'s marker, close) per round, {args.rounds} rounds, '
            'median; the three paths are warmed up with one round each, then measured in turn within every round. '
            f'"1 route" is a second gateway process with only the catch-all; with {b["routes"]:,} routes the only match is '
            'the catch-all, created last. ' + MATCH_NOTES[b['match']], '',
            '| Path | conn/s | µs per connection |', '|---|---|---|',
            f'| direct to the backend (floor) | {med["direct"]:,.0f} | {us(med["direct"]):.0f} |',
            f'| gateway, 1 route | {med["one"]:,.0f} | {us(med["one"]):.0f} |',
            f'| gateway, {b["routes"]:,} routes | {med["many"]:,.0f} | {us(med["many"]):.0f} |',
            f'| difference per connection ({b["routes"]:,} routes - 1 route) | | {diff:+.1f} |', '',
            'Rounds (conn/s): ' + '; '.join(f'{label} ' + ', '.join(f'{v:,.0f}' for v in c[name])
                                          for name, label in (('direct', 'direct'), ('one', '1 route'), ('many', f'{b["routes"]:,} routes'))) + '.', '']
    return '\n'.join(out)


# --------------------------------------------------------------------------- main

def build() -> None:
    log(f'building: dotnet build -c Release {SG_PROJ}')
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    logpath = os.path.join(HERE, 'results', 'admin-build.log')
    with open(logpath, 'w') as lf:
        r = subprocess.run(['dotnet', 'build', '-c', 'Release', SG_PROJ], cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT, timeout=900)
    if r.returncode != 0:
        raise BenchError(f'build failed (rc {r.returncode}), see {logpath}')


def parse_args(argv):
    p = argparse.ArgumentParser(prog='bench/admin.py', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--no-build', action='store_true', help='use the existing binary')
    p.add_argument('--quick', action='store_true', help='smaller run: 200 writes, 2,000 routes, 500 connections x 3 rounds')
    p.add_argument('--writes', type=int, help='(a) route writes timed until traffic follows (default 1000)')
    p.add_argument('--routes', type=int, help='(b) routes written before the catch-all (default 10000)')
    p.add_argument('--clients', type=int, default=8, help='(b) concurrent admin clients (default 8)')
    p.add_argument('--match', choices=['remote_addr', 'server_port', 'server_addr'], default='remote_addr',
                   help='(b) the field each route matches on: 10.x.y.z clients, ports 1..N, or server address 10.x.y.z '
                        '(default remote_addr)')
    p.add_argument('--conns', type=int, help='(c) sequential connections per round (default 2000)')
    p.add_argument('--rounds', type=int, help='(c) rounds per state (default 5)')
    p.add_argument('--timeout', type=float, default=5.0, help='(a) give up on one write after this many seconds (default 5)')
    p.add_argument('--serve-marker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.writes = args.writes or (200 if args.quick else 1000)
    args.routes = args.routes or (2000 if args.quick else 10000)
    args.conns = args.conns or (500 if args.quick else 2000)
    args.rounds = args.rounds or (3 if args.quick else 5)
    return args


def main(argv) -> int:
    args = parse_args(argv)
    if args.serve_marker:
        serve_marker(args.serve_marker)
        return 0

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, on_signal)
    workdir = tempfile.mkdtemp(prefix='streamgate-admin-bench.')
    try:
        if not args.no_build:
            build()
        if not os.access(SG_BIN, os.X_OK):
            raise BenchError(f'{SG_BIN} missing: build first (dotnet build -c Release {SG_PROJ})')
        _, port_a = start_backend('A')
        _, port_b = start_backend('B')
        gw = Gateway(workdir, free_port(), free_port(), free_port())
        log(f'gateway up (proxy {gw.proxy}, admin {gw.admin}, control {gw.control}); backends A {port_a}, B {port_b}')
        admin = Admin(gw.admin)

        log(f'(a) {args.writes} writes, each until a new connection follows it')
        a = write_to_traffic(gw, admin, {'A': port_a, 'B': port_b}, args.writes, args.timeout)
        log(f'(a) p50 {a["p50"]:.2f} ms, p99 {a["p99"]:.2f} ms')

        # (b) on the same gateway: routes 10.x.y.z each, then the catch-all last.
        status, _ = admin.request('DELETE', ROUTES + 'lat')
        if status != 200:
            raise BenchError(f'DELETE lat: {status}')
        rss_before = gw.rss_kb()
        log(f'(b) {args.routes} routes from {args.clients} clients, then the catch-all')
        b = apply_many(gw, admin, port_a, args.routes, args.clients, args.match)
        log(f'(b) written in {b["write_s"]:.1f} s, applied {b["apply_ms"]:.1f} ms after the last acknowledgement')
        rss_after = gw.rss_kb()

        # (c) against a second gateway holding just the catch-all.
        one_dir = os.path.join(workdir, 'one-route')
        os.makedirs(one_dir)
        one = Gateway(one_dir, free_port(), free_port(), free_port())
        one_admin = Admin(one.admin)
        one_admin.put('/apisix/admin/upstreams/bench', {'nodes': {f'127.0.0.1:{port_a}': 1}})
        one_admin.put(ROUTES + 'catch-all', {'upstream_id': 'bench'})
        deadline = time.monotonic() + 15
        while control_config(one.control).get('stream_routes') != 1 or read_marker(one.proxy) != b'A\n':
            if time.monotonic() > deadline:
                raise BenchError('the one-route gateway never served its route')
            time.sleep(0.01)
        log(f'(c) {args.rounds} rounds x {args.conns} connections: direct, 1 route, {b["routes"]} routes')
        c = matching_cost({'direct': port_a, 'one': one.proxy, 'many': gw.proxy}, args.conns, args.rounds)
        for g in (gw, one):
            if g.p.poll() is not None:
                raise BenchError('a gateway exited during the run:\n' + '\n'.join(g.lines[-20:]))

        text = report(args, a, b, c, (rss_before, rss_after))
        print(text)
        os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
        with open(os.path.join(HERE, 'results', 'admin-latest.md'), 'w') as f:
            f.write(text + '\n')
        log('written to bench/results/admin-latest.md')
        return 0
    except BenchError as e:
        log(f'error: {e}')
        return 1
    except KeyboardInterrupt:
        log('interrupted')
        return 130
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
