#!/usr/bin/env python3
"""Failover under load: how many client connections fail when one of two upstream nodes dies.

  python3 bench/failover.py                  # every scenario, StreamGate built by bench/run.sh or dotnet build
  python3 bench/failover.py --seconds 12 --clients 16
  python3 bench/failover.py --bin /tmp/sg/streamgate

Two redis-server backends behind one StreamGate upstream (round robin, default retries = 1). Client threads
open a new connection per request (connect, PING, wait for +PONG up to --reply-timeout, close) for --seconds;
at one third of the run one backend is
  killed  (SIGKILL: its port refuses connections), or
  stopped (SIGSTOP: the kernel still completes handshakes, nothing ever answers: a hung node),
and each scenario runs twice: without health checks, and with active tcp checks that send PING and expect
+PONG (interval 1 s). A connection fails when it is refused, reset, closed early, or gets no +PONG in time.

What to expect: a killed node costs (nearly) nothing either way, because a refused connect is retried on the
other node; a hung node fails about half the connections for the rest of the run without checks (connects
succeed, so retries and passive checks cannot see it), and only those of the first seconds with active checks.
Loopback only; every loop is bounded by --seconds. Results: stdout (markdown) and bench/results/failover.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the side-by-side harness: Service, Ports, redis helpers)

CHECKS = """
    checks:
      active:
        type: tcp
        timeout: 0.5
        send: "PING\\r\\n"
        expect: "+PONG"
        healthy: {interval: 1, successes: 1}
        unhealthy: {interval: 1, tcp_failures: 1, timeouts: 1}"""


def start_gateway(exe: str, workdir: str, listen: int, nodes: list[int], checks: bool) -> bench.Service:
    d = tempfile.mkdtemp(prefix='gw-', dir=workdir)
    with open(os.path.join(d, 'config.yaml'), 'w') as f:
        f.write(bench.streamgate_config_yaml(listen))
    node_lines = ''.join(f'      "127.0.0.1:{p}": 1\n' for p in nodes)
    with open(os.path.join(d, 'apisix.yaml'), 'w') as f:
        f.write(f"""upstreams:
  - id: u1
    type: roundrobin
    timeout: {{connect: 1, send: 5, read: 5}}
    nodes:
{node_lines}{CHECKS if checks else ''}
stream_routes:
  - id: 1
    upstream_id: u1
#END
""")
    return bench.Service(f'streamgate-{listen}', [exe, 'run', '--config', os.path.join(d, 'config.yaml')], d)


class Load:
    """Client threads, each doing one request per new connection until told to stop."""

    def __init__(self, port: int, clients: int, reply_timeout: float):
        self.port = port
        self.reply_timeout = reply_timeout
        self.ok = 0
        self.failed = 0
        self.failed_at: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]
        self.started = 0.0

    def one(self) -> bool:
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=self.reply_timeout) as s:
                s.settimeout(self.reply_timeout)
                s.sendall(b'PING\r\n')
                got = b''
                while b'\r\n' not in got:
                    chunk = s.recv(64)
                    if not chunk:
                        return False
                    got += chunk
                return got.startswith(b'+PONG')
        except OSError:
            return False

    def run(self) -> None:
        while not self.stop.is_set():
            ok = self.one()
            with self.lock:
                if ok:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.failed_at.append(time.monotonic() - self.started)

    def start(self) -> None:
        self.started = time.monotonic()
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(self.reply_timeout + 5)


def scenario(exe: str, workdir: str, ports: bench.Ports, how: str, checks: bool, args) -> dict:
    backends = [ports.get(), ports.get()]
    redis = [bench.start_redis(p, workdir) for p in backends]
    for p, svc in zip(backends, redis):
        bench.wait_redis(p, svc)
    listen = ports.get()
    gw = start_gateway(exe, workdir, listen, backends, checks)
    try:
        bench.wait_redis(listen, gw)
        if checks:
            time.sleep(1.5)  # the first probes have run: both nodes start healthy anyway
        load = Load(listen, args.clients, args.reply_timeout)
        load.start()
        time.sleep(args.seconds / 3)
        victim = redis[0]
        died_at = time.monotonic() - load.started
        os.kill(victim.p.pid, signal.SIGKILL if how == 'killed' else signal.SIGSTOP)
        time.sleep(args.seconds * 2 / 3)
        load.finish()
        after = [t - died_at for t in load.failed_at if t >= died_at]
        return dict(how=how, checks=checks, ok=load.ok, failed=load.failed, after=len(after),
                    last=max(after) if after else None)
    finally:
        if redis[0].alive():
            try:
                os.kill(redis[0].p.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        bench.stop_all()


def main(argv) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--bin', default=bench.SG_BIN, help='streamgate executable (default: the Release build)')
    p.add_argument('--seconds', type=float, default=9, help='run length per scenario (default 9)')
    p.add_argument('--clients', type=int, default=8, help='client threads (default 8)')
    p.add_argument('--reply-timeout', type=float, default=1.0, help='seconds a client waits for +PONG (default 1)')
    p.add_argument('--port-base', type=int, default=7600)
    args = p.parse_args(argv)
    if not os.path.exists(args.bin):
        print(f'no streamgate at {args.bin}: run `dotnet build src/StreamGate -c Release` first', file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix='streamgate-failover-')
    ports = bench.Ports(args.port_base)
    rows = []
    for how in ('killed', 'stopped'):
        for checks in (False, True):
            bench.log(f'failover: node {how}, active checks {"on" if checks else "off"}')
            rows.append(scenario(args.bin, workdir, ports, how, checks, args))
    lines = [
        f'Failover, 2 nodes, {args.clients} clients, one new connection per request, {args.seconds:g} s per scenario, '
        f'one node dies at {args.seconds / 3:g} s; reply timeout {args.reply_timeout:g} s.',
        '',
        '| node | active checks | connections ok | failed | failed after the death | last failure after the death |',
        '|---|---|---:|---:|---:|---:|',
    ]
    for r in rows:
        last = '-' if r['last'] is None else f"{r['last']:.1f} s"
        lines.append(f"| {r['how']} | {'tcp PING/+PONG, 1 s' if r['checks'] else 'none'} | {r['ok']:,} | {r['failed']:,} | {r['after']:,} | {last} |")
    text = '\n'.join(lines) + '\n'
    print(text)
    out = os.path.join(bench.HERE, 'results')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'failover.md'), 'w') as f:
        f.write(text)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    finally:
        bench.stop_all()
