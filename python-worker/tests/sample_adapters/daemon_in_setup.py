"""A module adapter whose setup() leaves a daemon behind: a double fork with
setsid, whose pid goes to the file named by DAEMON_PID_FILE (spec
"daemon_in_setup"). The forkserver tests check that it ends with its worker."""

from __future__ import annotations

import os
import time

from snakepit_worker import tool


def setup() -> None:
    path = os.environ["DAEMON_PID_FILE"]
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                with open(path + ".tmp", "w", encoding="ascii") as f:
                    f.write(str(os.getpid()))
                os.rename(path + ".tmp", path)
                while True:
                    time.sleep(3600)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    while not os.path.exists(path):
        time.sleep(0.005)


@tool
def noop() -> None:
    return None
