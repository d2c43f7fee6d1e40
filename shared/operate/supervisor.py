"""Operate: running the scoring service's worker processes (``renkei serve --workers N``).

One worker runs in the serve process itself. Several run under uvicorn's supervisor (it
restarts a worker that dies, stops them all on SIGTERM or Ctrl-C), each on a socket of its
own bound to the same port with SO_REUSEPORT, so the kernel spreads new connections evenly
over the workers. (On one shared socket, whichever worker's event loop wakes first accepts
a whole burst of connections, and a client's kept-alive connections stay with it: measured
with `hey` at concurrency 32, one worker took 92% of the requests.) When a worker dies its
socket is closed at once (connections it had queued but not accepted are reset) and its
replacement binds a new one: new connections go to the live workers meanwhile, instead of
waiting in a dead worker's queue until its replacement has loaded (over 30 s on a busy
machine).
"""

from __future__ import annotations

import socket

from uvicorn import Config, Server
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other sockets may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class Supervisor(Multiprocess):
    """uvicorn's supervisor with one socket per worker (``sockets[i]`` for worker i, kept
    for its replacement)."""

    def _process(self, idx: int) -> Process:
        return Process(self.config, [self.sockets[idx]])

    def _fresh_socket(self, idx: int) -> None:
        """Close a dead worker's socket (the kernel then sends new connections to the live
        workers' sockets) and bind a new one to the same port for its replacement."""
        old = self.sockets[idx]
        host, port = old.getsockname()[:2]
        old.close()
        self.sockets[idx] = reuse_port_socket(host, port)

    def init_processes(self) -> None:
        for idx in range(self.processes_num):
            process = self._process(idx)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:  # SIGHUP: each worker replaced, its replacement first
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._process(idx)
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                logger.error("worker [%s] was not ready in time; restart aborted", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: kill it
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # would fail the same way again
                logger.error("worker [%s] failed to start; stopping the service", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("worker [%s] died; starting its replacement", process.pid)
            self._fresh_socket(idx)
            process = self._process(idx)
            process.start()
            self.processes[idx] = process


def run_workers(config: Config) -> bool:
    """Serve ``config.app`` (an import string) with ``config.workers`` workers until told
    to stop; False when the service did not start."""
    if config.workers == 1:
        server = Server(config)
        server.run()
        return server.started
    first = reuse_port_socket(config.host, config.port)
    port = first.getsockname()[1]  # port 0: the one the first socket got
    sockets = [first] + [reuse_port_socket(config.host, port) for _ in range(config.workers - 1)]
    logger.info("serving on http://%s:%d with %d workers", config.host, port, config.workers)
    try:
        Supervisor(config, sockets).run()
    finally:
        for s in sockets:
            s.close()
    return True
