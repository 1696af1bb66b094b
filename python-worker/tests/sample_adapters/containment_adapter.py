"""Tools that try to escape their worker or breach its limits (spec
"containment_adapter:ContainmentAdapter").

The node's containment and limit tests (verticles/, tests/) put this
directory on a pool's python-path. Each ``start_*`` tool starts a process
that would outlive its worker if nothing ended it, and returns that
process's pid, so the test can watch it end.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import sys
import time
from typing import Any, Dict, List

from snakepit_worker import Adapter, tool

#: Files ``open_files`` keeps open.
_OPEN: List[Any] = []
#: Memory ``allocate`` keeps alive.
_HELD: List[bytearray] = []


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


def _wait_for_pid_file(path: str) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
            if text.endswith("."):
                return int(text[:-1])
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"no pid in {path}")


class ContainmentAdapter(Adapter):
    @tool
    def start_fork(self) -> int:
        """A plain os.fork() child that sleeps forever; returns its pid."""
        pid = os.fork()
        if pid == 0:
            try:
                _sleep_forever()
            finally:
                os._exit(0)
        return pid

    @tool
    def start_subprocess(self) -> int:
        """A ``sleep`` started with subprocess, never waited for; returns its pid."""
        return subprocess.Popen(["sleep", "3600"]).pid

    @tool
    def start_multiprocessing(self) -> int:
        """A multiprocessing.Process (fork start method) that sleeps forever; returns its pid."""
        process = multiprocessing.get_context("fork").Process(target=_sleep_forever, daemon=False)
        process.start()
        return process.pid

    @tool
    def start_daemon(self, pid_file: str) -> int:
        """A double fork with setsid in between (a classic daemon); returns the grandchild's pid."""
        child = os.fork()
        if child == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    with open(pid_file + ".tmp", "w", encoding="ascii") as f:
                        f.write(f"{os.getpid()}.")
                    os.rename(pid_file + ".tmp", pid_file)
                    _sleep_forever()
                # The grandchild is orphaned when this process exits, and a
                # forkserver may end an orphan at once (fork mode without
                # cgroups): exit only once it has written its pid.
                _wait_for_pid_file(pid_file)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        return _wait_for_pid_file(pid_file)

    @tool
    def start_shell_daemon(self, pid_file: str) -> int:
        """A shell's background job that calls setsid and outlives the shell; returns its pid."""
        subprocess.run(["sh", "-c", f"setsid sh -c 'echo $$. > {pid_file}; exec sleep 3600' &"],
                       check=True)
        return _wait_for_pid_file(pid_file)

    @tool
    def pid(self) -> int:
        return os.getpid()

    @tool
    def parent(self) -> Dict[str, Any]:
        """This worker's pid, parent pid, process group and session."""
        return {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
                "executable": sys.executable}

    @tool
    def random_value(self) -> float:
        return random.random()

    @tool
    def modules(self, names: List[str]) -> Dict[str, bool]:
        """Which of ``names`` are imported in this worker."""
        return {n: n in sys.modules for n in names}

    @tool
    def allocate(self, mb: int) -> int:
        """Allocates ``mb`` MiB and keeps it; returns the MiB held."""
        _HELD.append(bytearray(mb * 1024 * 1024))
        return sum(len(b) for b in _HELD) >> 20

    @tool
    def open_files(self, n: int) -> int:
        """Opens ``n`` more files and keeps them open."""
        for _ in range(n):
            _OPEN.append(open(os.devnull, "rb"))
        return len(_OPEN)

    @tool
    def burn_cpu(self, seconds: float) -> float:
        """Spins the CPU for ``seconds`` of wall time."""
        end = time.monotonic() + seconds
        x = 0.0
        while time.monotonic() < end:
            x += 1.0
        return x

    @tool
    def fork_bomb(self, seconds: float) -> Dict[str, int]:
        """Forks without end for ``seconds``: every child forks too. Returns forks done and refused."""
        started = refused = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if os.fork() == 0:
                    # The child keeps the bomb going, then sleeps: nothing but a kill ends it.
                    while time.monotonic() < end:
                        try:
                            os.fork()
                        except OSError:
                            time.sleep(0.01)
                    _sleep_forever()
                started += 1
            except OSError:
                refused += 1
                time.sleep(0.001)
        return {"started": started, "refused": refused}
