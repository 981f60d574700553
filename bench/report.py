"""Writing benchmark results into docs/benchmarks.md, one section per benchmark."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    ram = f"{int(memory.group(1)) / 1024**2:.1f} GiB RAM" if memory else "RAM unknown"
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    model = f" ({cpu.group(1).strip()})" if cpu else ""
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc){model}, {ram}, {platform.system()} {platform.release()}"


def write_section(title: str, body: str, command: str) -> Path:
    """Put ``body`` under ``title`` in docs/benchmarks.md with the date, the
    machine and the command, replacing an earlier run and keeping other sections."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = (
        f"{title}\n\n{body}\n\n"
        f"- Date: {datetime.date.today().isoformat()}\n"
        f"- Machine: {machine()}\n"
        f"- Command: `{command}`\n"
    )
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path
