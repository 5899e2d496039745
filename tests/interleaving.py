"""Running threads that switch as often as the interpreter allows, to land inside a critical
section that a normal switch interval (5 ms) would almost never split."""

from __future__ import annotations

import sys
import threading


def run_switching_often(threads: list[threading.Thread]) -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
