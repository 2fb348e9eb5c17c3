"""System diagnosis: inspect CPU, memory, disk and processes and report findings."""

from __future__ import annotations

import os
import pwd
import random
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

import psutil

__all__ = [
    "DiagnosisReport",
    "Finding",
    "ProcessRanking",
    "diagnose_system",
    "history",
    "rank_processes",
    "synthetic_processes",
]

_HISTORY: deque[DiagnosisReport] = deque(maxlen=256)


@dataclass
class Finding:
    """One observation with a severity: ``info``, ``warning`` or ``critical``."""

    component: str
    severity: str
    message: str


@dataclass
class DiagnosisReport:
    """What one diagnosis saw."""

    cpu_percent: float
    memory_percent: float
    swap_percent: float
    disk_percent: float
    process_count: int
    top_processes: list[tuple[int, str, int]]
    """(pid, label, rss bytes) of the largest processes."""
    findings: list[Finding] = field(default_factory=list)
    owners: dict[int, str] = field(default_factory=dict)
    """The user each of the largest processes runs as, by pid."""


@lru_cache(maxsize=1024)
def process_label(pid: int, name: str) -> str:
    """A readable label for a process (cached: names rarely change for a pid)."""
    return f"{name or '?'}[{pid}]"


@lru_cache(maxsize=256)
def user_name(uid: int) -> str:
    """The login name of ``uid`` (cached: each lookup reads the user database)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _owners(procs: list[psutil.Process]) -> dict[int, str]:
    owners = {}
    for proc in procs:
        try:
            owners[proc.pid] = user_name(proc.uids().real)
        except (psutil.Error, OSError):
            continue  # gone, or not ours to read
    return owners


@dataclass
class ProcessRanking:
    """Processes by memory: the largest, and the memory held per process name."""

    top: list[tuple[int, str, int]]
    """(pid, label, rss bytes) of the largest processes, largest first."""
    by_name: dict[str, int]
    """Resident bytes of all processes of each name."""
    total: int


def rank_processes(records: list[tuple[int, str, int]], top: int = 5) -> ProcessRanking:
    """Rank ``(pid, name, rss)`` records by memory and total them by process name.

    What the diagnosis does with every process on the machine; the cost grows
    with their number (a sort: n log n).
    """
    labelled = []
    by_name: dict[str, int] = {}
    total = 0
    for pid, name, rss in records:
        labelled.append((pid, process_label(pid, name), rss))
        by_name[name] = by_name.get(name, 0) + rss
        total += rss
    labelled.sort(key=lambda entry: entry[2], reverse=True)
    return ProcessRanking(labelled[:top], by_name, total)


def synthetic_processes(count: int) -> list[tuple[int, str, int]]:
    """``count`` made-up ``(pid, name, rss)`` records, the same for the same count."""
    draw = random.Random(count)
    names = [f"worker-{i}" for i in range(50)] + ["python", "postgres", "nginx", "sshd"]
    return [(1000 + i, draw.choice(names), draw.randrange(1 << 20, 1 << 30)) for i in range(count)]


def _grade(component: str, percent: float, warn: float, critical: float) -> Finding:
    if percent >= critical:
        return Finding(component, "critical", f"{component} at {percent:.1f}% (>= {critical}%)")
    if percent >= warn:
        return Finding(component, "warning", f"{component} at {percent:.1f}% (>= {warn}%)")
    return Finding(component, "info", f"{component} at {percent:.1f}%")


def diagnose_system(top: int = 5, disk_path: str = "/") -> DiagnosisReport:
    """Inspect this machine and grade what it finds (seed limits: CPU 80 %, memory 85 %)."""
    cpu = psutil.cpu_percent(interval=None)
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    disk = psutil.disk_usage(disk_path if os.path.exists(disk_path) else os.getcwd())
    records: list[tuple[int, str, int]] = []
    procs: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["pid", "name", "memory_info"]):
        info = proc.info
        rss = info["memory_info"].rss if info.get("memory_info") else 0
        records.append((info["pid"], info.get("name") or "", rss))
        procs[info["pid"]] = proc
    ranking = rank_processes(records, top)
    processes = ranking.top
    report = DiagnosisReport(
        cpu_percent=cpu,
        memory_percent=memory.percent,
        swap_percent=swap.percent,
        disk_percent=disk.percent,
        process_count=len(records),
        top_processes=processes,
        owners=_owners([procs[pid] for pid, _, _ in processes]),
    )
    report.findings = [
        _grade("cpu", cpu, 60.0, 80.0),
        _grade("memory", memory.percent, 70.0, 85.0),
        _grade("swap", swap.percent, 25.0, 60.0),
        _grade("disk", disk.percent, 80.0, 95.0),
    ]
    if processes and memory.total and processes[0][2] / memory.total > 0.5:
        _, label, rss = processes[0]
        report.findings.append(
            Finding("processes", "warning", f"{label} holds {rss / memory.total:.0%} of memory")
        )
    _HISTORY.append(report)
    return report


def history() -> deque[DiagnosisReport]:
    """Recent diagnosis reports (bounded)."""
    return _HISTORY
