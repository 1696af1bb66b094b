"""A pool's forkserver: ``python -m snakepit_worker.forkserver``, one per pool.

The node starts one per pool, with the pool's environment, and asks it for
workers. It is the parent of every worker of its pool, and:

* **forks** them (mode ``fork``): it imports the runtime, the adapter module
  and the pool's ``preload`` list once, then each worker is a fork that runs
  the adapter's ``setup()`` and connects to the node like a spawned one. It
  falls back to **spawning** (mode ``spawn``: fork, then exec of the
  interpreter, ``-m snakepit_worker``) when the pool asks for it, when the
  adapter says it is not fork-safe (``fork_safe = False`` on the class, or
  ``FORK_SAFE = False`` in the module), when importing it started threads, or
  when it does not import (the spawned workers then report the traceback);
* **contains** them: it is a child subreaper, each worker leads its own
  session and process group, dies with the forkserver (``PDEATHSIG``), and
  may have a pids cgroup of its own (``max-processes``). When a worker ends,
  the forkserver ends what it left behind; when the node ends (its control
  pipe closes, even after SIGKILL of the JVM) it ends every worker and
  everything they started, then exits.

Control protocol (JSON, one object per line). The node writes commands to
the forkserver's stdin:

* ``{"op": "start", "id": W, "log": PATH}``: start worker ``W``, its stdout
  and stderr appended to ``PATH`` until it connects;
* ``{"op": "signal", "id": W, "signal": N}``: signal worker ``W`` (SIGKILL
  also ends its process group);
* end of input: end everything and exit.

It answers on its stdout: ``{"event": "ready", "pid", "mode", "reason",
"python", "version", "cgroup", "preloaded"}`` once, then ``{"event":
"started", "id", "pid", "cgroup"}``, ``{"event": "start_failed", "id",
"error"}`` and ``{"event": "exited", "id", "pid", "status"}`` (the exit
status, or 128 + the signal). ``{"event": "failed", "error"}`` means it
could not start (a limit it cannot enforce, say) and is exiting.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import sys
import threading
import time
import traceback
from typing import Any, Dict, List, Optional

from . import containment
from .containment import CgroupUnavailable, PidsCgroup

#: How often the forkserver checks that the node (its parent) is still there.
PARENT_CHECK_S = 0.5
#: How long the forkserver keeps ending leftovers at exit before it gives up.
EXIT_SWEEP_S = 3.0
#: Tasks a worker needs for itself (threads of the runtime) on top of max-processes.
WORKER_OWN_TASKS = 8


def _env_int(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else 0


def _exit_status(status: int) -> int:
    """A wait status as the JVM reports it: the exit code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


class Forkserver:
    """The forkserver's state and loop; single-threaded, so that forking is safe."""

    def __init__(self, ctl_in: int, ctl_out: int) -> None:
        self.ctl_in = ctl_in
        self.ctl_out = ctl_out
        self.pid = os.getpid()
        self.parent_pid = _env_int("SNAKEPIT_PARENT_PID") or os.getppid()
        self.python = os.environ.get("SNAKEPIT_PYTHON") or sys.executable
        self.max_memory_mb = _env_int("SNAKEPIT_MAX_MEMORY_MB")
        self.max_open_files = _env_int("SNAKEPIT_MAX_OPEN_FILES")
        self.max_processes = _env_int("SNAKEPIT_MAX_PROCESSES")
        self.concurrency = _env_int("SNAKEPIT_CONCURRENCY") or 1
        self.mode = "spawn"
        self.reason = ""
        self.preloaded: List[str] = []
        self.adapter: Any = None
        self.cgroups: Optional[PidsCgroup] = None
        #: live workers: pid -> (worker id, cgroup directory or "")
        self.workers: Dict[int, tuple] = {}
        self.by_id: Dict[str, int] = {}
        self._inbuf = b""
        self._closing = False
        self._wake_r, self._wake_w = os.pipe()
        self.selector = selectors.DefaultSelector()

    # ------------------------------------------------------------------
    # Startup
    # ------------------------------------------------------------------

    def prepare(self) -> None:
        """Sets up containment and, in fork mode, imports what workers share."""
        containment.become_subreaper()
        if self.max_processes > 0:
            name = os.environ.get("SNAKEPIT_CGROUP", f"snakepit-{self.pid}")
            try:
                self.cgroups = PidsCgroup(name)
            except CgroupUnavailable as exc:
                self.fail(f"max-processes needs a pids cgroup, and none can be used here: {exc}")
        if self.max_memory_mb > 0 or self.max_open_files > 0:
            # Check the limits can be set at all before any worker needs them.
            try:
                import resource

                for res, value in ((resource.RLIMIT_AS, self.max_memory_mb * 1024 * 1024),
                                   (resource.RLIMIT_NOFILE, self.max_open_files)):
                    if value > 0:
                        hard = resource.getrlimit(res)[1]
                        if hard != resource.RLIM_INFINITY and value > hard:
                            self.fail(f"limit {value} is above this process's hard limit {hard}")
            except ImportError:
                self.fail("max-memory-mb and max-open-files need the resource module (Unix)")
        requested = os.environ.get("SNAKEPIT_FORKSERVER_MODE", "fork")
        if requested != "fork":
            self.reason = "forkserver is off in the pool's configuration"
        elif not hasattr(os, "fork"):
            self.reason = "this platform cannot fork"
        elif sys.platform == "darwin":
            # System frameworks are not fork-safe on macOS (multiprocessing spawns there too).
            self.reason = "forking without exec is not safe on macOS"
        else:
            self.reason = self._load_for_fork()
            if not self.reason:
                self.mode = "fork"

    def _load_for_fork(self) -> str:
        """Imports the runtime, preload list and adapter; returns why not to fork, or ''."""
        try:
            from . import __main__ as worker_main  # noqa: F401  (the runtime and its imports)
            from . import runtime  # noqa: F401
            import asyncio  # noqa: F401
            # Imported lazily otherwise, in each worker.
            import concurrent.futures.thread  # noqa: F401
            import queue  # noqa: F401
            import resource  # noqa: F401
        except Exception as exc:
            return f"the worker runtime failed to import: {exc!r}"
        preload = os.environ.get("SNAKEPIT_PRELOAD", "").split(",")
        for name in filter(None, (m.strip() for m in preload)):
            try:
                __import__(name)
                self.preloaded.append(name)
            except BaseException as exc:
                self.fail(f"preload: module {name!r} failed to import: {exc!r}")
        spec = os.environ.get("SNAKEPIT_ADAPTER", "")
        try:
            from .adapter import load_adapter

            self.adapter = load_adapter(spec)
        except BaseException as exc:
            return f"the adapter {spec!r} failed to import in the forkserver: {exc!r}"
        module = sys.modules.get(spec.partition(":")[0])
        instance = getattr(self.adapter, "instance", None)
        if (getattr(instance, "fork_safe", True) is False
                or getattr(module, "FORK_SAFE", True) is False):
            self.adapter = None
            return f"the adapter {spec!r} declares itself not fork-safe"
        others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if others:
            self.adapter = None
            return "importing the adapter or the preload list started threads " \
                   f"({', '.join(others)}), which a fork would not carry over"
        gc.collect()
        if hasattr(gc, "freeze"):
            # Shared pages stay shared: the collector no longer writes to these objects.
            gc.freeze()
        return ""

    def fail(self, error: str) -> None:
        self.emit({"event": "failed", "error": error})
        os._exit(4)

    def emit(self, event: Dict[str, Any]) -> None:
        data = (json.dumps(event) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.ctl_out, data):]
        except OSError:
            # The node is gone: end everything.
            self.shutdown()

    # ------------------------------------------------------------------
    # Loop
    # ------------------------------------------------------------------

    def run(self) -> None:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # A SIGTERM (an operator, a process manager) ends the pool as the node's end does.
        signal.signal(signal.SIGTERM, lambda *_: self.shutdown())
        self.selector.register(self.ctl_in, selectors.EVENT_READ, "ctl")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.emit({"event": "ready", "pid": self.pid, "mode": self.mode, "reason": self.reason,
                   "python": sys.executable, "version": sys.version.split()[0],
                   "cgroup": self.cgroups.parent if self.cgroups else None,
                   "preloaded": self.preloaded})
        next_parent_check = time.monotonic() + PARENT_CHECK_S
        while True:
            timeout = max(0.0, next_parent_check - time.monotonic())
            for key, _ in self.selector.select(timeout):
                if key.data == "ctl":
                    self._read_commands()
                else:
                    try:
                        while os.read(self._wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
            self._reap()
            if time.monotonic() >= next_parent_check:
                next_parent_check = time.monotonic() + PARENT_CHECK_S
                if os.getppid() != self.parent_pid:
                    self.shutdown()
                # Orphans of processes that ended while their worker runs are
                # reparented here without a signal: look for them now and then.
                self._end_orphans()

    def _read_commands(self) -> None:
        try:
            chunk = os.read(self.ctl_in, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.shutdown()
        self._inbuf += chunk
        while b"\n" in self._inbuf:
            line, self._inbuf = self._inbuf.split(b"\n", 1)
            if line.strip():
                self._command(json.loads(line))

    def _command(self, cmd: Dict[str, Any]) -> None:
        op = cmd.get("op")
        if op == "start":
            self._start(str(cmd["id"]), str(cmd["log"]))
        elif op == "signal":
            pid = self.by_id.get(str(cmd.get("id")))
            sig = int(cmd.get("signal", signal.SIGKILL))
            if pid is not None:
                containment.kill(pid, sig)
                if sig == signal.SIGKILL:
                    containment.kill_group(pid)

    # ------------------------------------------------------------------
    # Workers
    # ------------------------------------------------------------------

    def _start(self, wid: str, log: str) -> None:
        cgroup = ""
        try:
            if self.cgroups is not None:
                tasks = self.max_processes + self.concurrency + WORKER_OWN_TASKS
                cgroup = self.cgroups.create(_cgroup_name(wid), tasks)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            pid = os.fork()
        except OSError as exc:
            self.emit({"event": "start_failed", "id": wid, "error": f"cannot start: {exc}"})
            return
        if pid == 0:
            self._child(wid, log, cgroup)  # never returns
        self.workers[pid] = (wid, cgroup)
        self.by_id[wid] = pid
        self.emit({"event": "started", "id": wid, "pid": pid, "cgroup": cgroup or None})

    def _child(self, wid: str, log: str, cgroup: str) -> None:
        """In the new worker process: contain it, then exec (spawn) or serve (fork)."""
        status = 1
        try:
            os.setsid()
            containment.die_with_parent()
            if os.getppid() != self.pid:
                os._exit(1)  # the forkserver died before the line above
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            self.selector.close()
            for fd in (self.ctl_in, self.ctl_out, self._wake_r, self._wake_w):
                os.close(fd)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            if cgroup:
                PidsCgroup.join(cgroup)
            containment.apply_rlimits(self.max_memory_mb, self.max_open_files)
            os.environ["SNAKEPIT_WORKER_ID"] = wid
            os.environ["SNAKEPIT_PARENT_PID"] = str(self.pid)
            if self.mode == "spawn":
                os.execv(self.python, [self.python, "-m", "snakepit_worker"])
            status = _serve_forked(self.adapter)
        except BaseException:
            try:
                os.write(2, f"snakepit worker {wid}: could not start:\n{traceback.format_exc()}"
                         .encode("utf-8", "backslashreplace"))
            except OSError:
                pass
        os._exit(status)

    def _reap(self) -> None:
        ended = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            ended = True
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue  # an orphan we adopted and ended
            wid, cgroup = worker
            self.by_id.pop(wid, None)
            # The node first (it replaces the worker meanwhile), then what the
            # worker left behind: its process group, its cgroup, and (below)
            # whatever was reparented to us.
            if not self._closing:
                self.emit({"event": "exited", "id": wid, "pid": pid,
                           "status": _exit_status(status)})
            containment.kill_group(pid)
            if cgroup:
                PidsCgroup.remove(cgroup)
        if ended:
            self._end_orphans()

    def _end_orphans(self) -> None:
        """Ends every child of ours that belongs to no live worker, and what is under it.

        A child of ours that is not a worker is an orphan reparented to us
        (we are a child subreaper): a double fork, or what a dead worker
        left. It may run while its worker does: it belongs to a worker when
        it is in the worker's cgroup, in its process group, or carries its
        ``SNAKEPIT_WORKER_ID`` (the environment a tool's processes inherit).
        Without cgroups, a process that a forked worker forks (no exec) and
        that then calls ``setsid`` has neither, so it is ended as soon as it
        is orphaned, even while its worker runs.
        """
        live = {wid: pid for pid, (wid, _) in self.workers.items()}
        for pid, ppid, pgid in containment.children_of(self.pid):
            if pid in self.workers or self._owner(pid, pgid, live) is not None:
                continue
            if pgid == pid:
                containment.kill_group(pgid)
            containment.kill_descendants(pid)
            containment.kill(pid)

    def _owner(self, pid: int, pgid: int, live: Dict[str, int]) -> Optional[str]:
        """The live worker an orphan belongs to, or None."""
        if pgid in self.workers:
            return self.workers[pgid][0]
        for wid, cgroup in self.workers.values():
            if cgroup and pid in PidsCgroup.members(cgroup):
                return wid
        wid = containment.environ_value(pid, "SNAKEPIT_WORKER_ID")
        return wid if wid in live else None

    def shutdown(self) -> None:
        """Ends every worker and everything they started, then exits."""
        self._closing = True
        for pid, (_, cgroup) in list(self.workers.items()):
            containment.kill(pid)
            containment.kill_group(pid)
            if cgroup:
                PidsCgroup.kill_all(cgroup)
        deadline = time.monotonic() + EXIT_SWEEP_S
        while time.monotonic() < deadline:
            containment.kill_descendants(self.pid)
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                break
            if not containment.descendants(self.pid):
                break
            time.sleep(0.005)
        if self.cgroups is not None:
            self.cgroups.remove_all()
        os._exit(0)


def _cgroup_name(worker_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id)


def _serve_forked(adapter: Any) -> int:
    """A forked worker: fresh random state, then setup() and the runtime, as a spawned one."""
    _reseed()
    from .__main__ import serve
    from .config import ConfigError, config_from_env

    try:
        config = config_from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"snakepit worker: invalid environment: {exc}\n")
        return 2
    return serve(config, adapter)


def _reseed() -> None:
    """Gives each fork its own random state (``random`` reseeds itself at fork)."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        try:
            numpy_random.seed()
        except Exception:
            pass


def main() -> int:
    # The control channel moves off fds 0 and 1, so that nothing imported
    # (print at import, say) can write into it: stdout goes to stderr.
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    server = Forkserver(ctl_in, ctl_out)
    server.prepare()
    server.run()
    return 0


if __name__ == "__main__":
    main()
