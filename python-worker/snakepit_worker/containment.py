"""Keeping every process a tool starts inside its worker, and the worker's limits.

Used by the forkserver (``forkserver.py``) and by the worker runtime:

* :func:`become_subreaper`: orphans of descendants are reparented to this
  process instead of pid 1 (``prctl(PR_SET_CHILD_SUBREAPER)``, Linux), so a
  double fork with ``setsid`` cannot escape. The forkserver is one, and so is
  each worker: when a worker dies, what it started is reparented to the
  forkserver, which ends it.
* :func:`die_with_parent`: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Set in a
  worker right after the forkserver forked it: the forkserver forks from its
  only thread, so the signal means exactly "the forkserver died".
* :func:`descendants` / :func:`kill_descendants`: the process tree under a
  pid, read from ``/proc``.
* :class:`PidsCgroup`: a cgroup (pids controller, v1 or v2) per worker, which
  bounds how many processes and threads a worker and everything it starts
  may have (``max-processes``): a fork bomb stops at the limit, and root is
  bound too, unlike ``RLIMIT_NPROC``.
* :func:`apply_rlimits`: ``RLIMIT_AS`` (``max-memory-mb``) and
  ``RLIMIT_NOFILE`` (``max-open-files``), inherited by whatever a worker starts.

Standard library only; every function degrades to doing nothing where the OS
lacks the feature (the forkserver reports what it could set up).
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import sys
from typing import Dict, Iterator, List, Optional, Tuple

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

_libc: Optional[ctypes.CDLL] = None


def _prctl(option: int, arg: int) -> bool:
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Makes orphaned descendants children of this process; False where unsupported."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> bool:
    """SIGKILL this process when the thread that forked it ends; False where unsupported."""
    return _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _live_stats() -> Iterator[Tuple[int, List[bytes]]]:
    """(pid, the fields of /proc/PID/stat after comm) of every live process, zombies left out."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) < 2 or fields[0] == b"Z":
            continue
        yield int(name), fields


def _parents() -> Dict[int, int]:
    """pid -> parent pid of every live process, from /proc (zombies left out)."""
    return {pid: int(fields[1]) for pid, fields in _live_stats()}


def children_of(parent: int) -> List[tuple]:
    """(pid, ppid, pgid) of the live children of ``parent``, from /proc."""
    return [(pid, parent, int(fields[2])) for pid, fields in _live_stats()
            if len(fields) >= 3 and int(fields[1]) == parent]


def environ_value(pid: int, name: str) -> Optional[str]:
    """A variable of the environment process ``pid`` started with, or None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def descendants(root: int) -> List[int]:
    """Every live process under ``root`` (children first), from /proc; [] without /proc."""
    children: Dict[int, List[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    out: List[int] = []
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signals one process, ignoring one that is gone."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(pgid: int) -> None:
    """SIGKILLs a process group, ignoring one that is empty."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_descendants(root: Optional[int] = None) -> int:
    """SIGKILLs every process under ``root`` (default: this one); returns how many.

    Stopped processes are sent SIGKILL too, which ends them. What a killed
    process had not yet been seen to start is reparented to the nearest
    subreaper (this process or the forkserver), which ends it in its turn.
    """
    me = os.getpid() if root is None else root
    pids = descendants(me)
    for pid in pids:
        kill(pid)
    return len(pids)


# ----------------------------------------------------------------------
# Resource limits
# ----------------------------------------------------------------------


def apply_rlimits(max_memory_mb: int, max_open_files: int) -> None:
    """Sets RLIMIT_AS and RLIMIT_NOFILE (0 leaves a limit as it is). Raises OSError."""
    if max_memory_mb <= 0 and max_open_files <= 0:
        return
    import resource

    if max_memory_mb > 0:
        limit = max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if max_open_files > 0:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))


# ----------------------------------------------------------------------
# cgroups
# ----------------------------------------------------------------------


class CgroupUnavailable(OSError):
    """No writable pids cgroup here; the message says what was tried."""


def _pids_hierarchy() -> Optional[str]:
    """The directory of this process's pids cgroup, v1 controller or v2, or None."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            mounts = [line.split() for line in f]
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            memberships = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    v1_mount = v2_mount = None
    for fields in mounts:
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype, options = fields[sep + 1], fields[-1].split(",")
        if fstype == "cgroup" and "pids" in options and v1_mount is None:
            v1_mount = fields[4]
        elif fstype == "cgroup2" and v2_mount is None:
            v2_mount = fields[4]
    for hid, controllers, path in memberships:
        if v1_mount and "pids" in controllers.split(","):
            return os.path.join(v1_mount, path.lstrip("/"))
    if v2_mount:
        for hid, controllers, path in memberships:
            if hid == "0":
                base = os.path.join(v2_mount, path.lstrip("/"))
                try:
                    with open(os.path.join(base, "cgroup.controllers"), encoding="utf-8") as f:
                        if "pids" in f.read().split():
                            return base
                except OSError:
                    return None
    return None


class PidsCgroup:
    """A pids cgroup per worker, under one directory per pool.

    ``parent`` is created under this process's own pids cgroup; each worker
    gets ``parent/<name>`` with ``pids.max`` set, joins it between fork and
    exec (or right after the fork), and everything it starts stays in it.
    """

    def __init__(self, name: str) -> None:
        base = _pids_hierarchy()
        if base is None:
            raise CgroupUnavailable(
                "no pids cgroup controller is mounted (cgroup v1 'pids' or cgroup v2 with "
                "'pids' in cgroup.controllers)")
        self.parent = os.path.join(base, name)
        try:
            os.makedirs(self.parent, exist_ok=True)
            if os.path.exists(os.path.join(base, "cgroup.subtree_control")):
                # cgroup v2: enable the controller for the workers' cgroups.
                with open(os.path.join(self.parent, "cgroup.subtree_control"), "w") as f:
                    f.write("+pids")
        except OSError as exc:
            raise CgroupUnavailable(
                f"cannot create the pids cgroup {self.parent}: {exc.strerror} (run the node "
                "as root, or delegate a cgroup subtree to its user)") from None

    def create(self, worker: str, max_tasks: int) -> str:
        """Makes (or resets) the worker's cgroup; returns its directory. Raises OSError."""
        path = os.path.join(self.parent, worker)
        self.remove(path)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "pids.max"), "w") as f:
            f.write(str(max_tasks))
        return path

    @staticmethod
    def join(path: str) -> None:
        """Moves the calling process into the cgroup (between fork and exec). Raises OSError."""
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    @staticmethod
    def members(path: str) -> List[int]:
        try:
            with open(os.path.join(path, "cgroup.procs"), encoding="utf-8") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    @classmethod
    def kill_all(cls, path: str) -> int:
        """SIGKILLs every process in the cgroup; returns how many were signalled."""
        pids = cls.members(path)
        for pid in pids:
            kill(pid)
        return len(pids)

    @classmethod
    def remove(cls, path: str) -> bool:
        """Removes the cgroup once it is empty; False while processes remain."""
        if not os.path.isdir(path):
            return True
        cls.kill_all(path)
        try:
            os.rmdir(path)
            return True
        except OSError as exc:
            return exc.errno == errno.ENOENT

    def remove_all(self) -> None:
        """Removes every worker cgroup that is empty, then the pool's own."""
        try:
            names = os.listdir(self.parent)
        except OSError:
            return
        for name in names:
            path = os.path.join(self.parent, name)
            if os.path.isdir(path):
                self.remove(path)
        try:
            os.rmdir(self.parent)
        except OSError:
            pass
