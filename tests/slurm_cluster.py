"""A throw-away single-node SLURM cluster for tests (Debian ``slurm-wlm`` + ``munge``, as root).

Everything lives in one directory: ``slurm.conf``, a private munge key and socket, state, spool,
logs and pid files. The daemons listen on free loopback ports picked at start-up, so several
clusters (other test runs, other developers) can run side by side. Only the processes started
here are ever stopped, by PID.

As a context manager (daemons also get SIGTERM if the Python process that started them dies)::

    with local_slurm(tmp_path) as info:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=info.env, check=True)

From a shell (daemons keep running after ``start`` returns)::

    python tests/slurm_cluster.py start --dir /tmp/slurm   # prints: export SLURM_CONF=...
    python tests/slurm_cluster.py status --dir /tmp/slurm
    python tests/slurm_cluster.py stop --dir /tmp/slurm
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
STATE_FILE = "cluster.json"
PARTITION = "debug"
MIN_JOB_AGE = 600  # the slurm executor plugin needs >= 3x its status-check interval for squeue
SYSTEM_MUNGE_KEY = Path("/etc/munge/munge.key")
SYSTEM_MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
DEFAULT_CONF_DIR = "/etc/slurm"  # Debian's compiled-in location of slurm.conf
_SUN_PATH_MAX = 107  # AF_UNIX path limit (108 bytes with NUL)


class SlurmClusterError(RuntimeError):
    """The local cluster could not be installed, started or stopped."""


@dataclasses.dataclass(frozen=True)
class SlurmInfo:
    """What a caller needs to talk to the running cluster."""

    workdir: Path
    conf: Path
    node: str
    partition: str
    cpus: int
    real_memory_mb: int
    pids: dict[str, int]
    env: dict[str, str]  # os.environ plus SLURM_CONF; pass to sbatch/squeue/snakemake

    @property
    def extra_env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}


# --------------------------------------------------------------------------- installation


def _have_binaries() -> bool:
    return all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in (*DAEMONS, "sbatch"))


def ensure_installed() -> None:
    """Install Debian's slurm-wlm and munge when the daemons are missing."""
    if _have_binaries():
        return
    if os.geteuid() != 0:
        raise SlurmClusterError("slurm-wlm/munge are missing and installing them needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "slurm-wlm", "munge"],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SlurmClusterError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    if not _have_binaries():
        raise SlurmClusterError("slurm-wlm/munge installed but slurmctld/slurmd/munged not found")


def _which(name: str) -> str:
    found = shutil.which(name) or (
        str(Path("/usr/sbin", name)) if Path("/usr/sbin", name).exists() else None
    )
    if not found:
        raise SlurmClusterError(f"{name} not found")
    return found


# --------------------------------------------------------------------------- helpers


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _node_name() -> str:
    try:
        name = subprocess.run(
            ["hostname", "-s"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        name = socket.gethostname().split(".")[0]
    return name or "localhost"


def _real_memory_mb() -> int:
    total_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            total_kb = int(line.split()[1])
    total_mb = total_kb // 1024
    headroom = max(512, total_mb // 10)
    return max(256, total_mb - headroom)


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def _marker(workdir: Path) -> str:
    return f"{workdir}/"


def _pid_is_ours(pid: int, marker: str) -> bool:
    """True if ``pid`` runs with ``marker`` (our workdir) on its command line."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def _stop_pid(pid: int, marker: str, timeout: float = 10.0) -> None:
    if not _pid_alive(pid) or not _pid_is_ours(pid, marker):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return "\n".join(lines[-n:])


def _logs(workdir: Path) -> str:
    logdir = workdir / "log"
    parts = []
    for f in sorted(logdir.glob("*")) if logdir.is_dir() else []:
        parts.append(f"----- {f} -----\n{_tail(f)}")
    return "\n".join(parts) or "(no logs)"


# --------------------------------------------------------------------------- configuration


def _write_munge_key(path: Path) -> None:
    path.write_bytes(os.urandom(1024))
    path.chmod(0o400)


def _ensure_system_munge_key() -> None:
    if SYSTEM_MUNGE_KEY.exists():
        return
    SYSTEM_MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("mungekey"):
        subprocess.run(["mungekey", "-c", "-k", str(SYSTEM_MUNGE_KEY)], check=True)
    else:
        _write_munge_key(SYSTEM_MUNGE_KEY)
    with contextlib.suppress(KeyError, OSError):
        shutil.chown(SYSTEM_MUNGE_KEY, "munge", "munge")


def _socket_path(workdir: Path) -> Path:
    sock = workdir / "munge" / "munge.socket"
    if len(str(sock)) > _SUN_PATH_MAX:
        raise SlurmClusterError(f"munge socket path too long for AF_UNIX: {sock}")
    return sock


def write_config(workdir: Path, munge_socket: Path) -> tuple[Path, dict]:
    node = _node_name()
    cpus = os.cpu_count() or 1
    mem = _real_memory_mb()
    ctld_port, slurmd_port = _free_ports(2)
    d = {k: workdir / k for k in ("etc", "state", "spool", "log", "run")}
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    (d["etc"] / "plugstack.conf").write_text("")  # keep Debian's /etc/slurm/plugstack.conf out
    (d["etc"] / "cgroup.conf").write_text("CgroupPlugin=autodetect\nIgnoreSystemd=yes\n")
    conf = d["etc"] / "slurm.conf"
    conf.write_text(
        f"""# written by tests/slurm_cluster.py; throw-away single-node cluster
ClusterName=sa{uuid.uuid4().hex[:8]}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={d["state"]}
SlurmdSpoolDir={d["spool"]}
SlurmctldPidFile={d["run"]}/slurmctld.pid
SlurmdPidFile={d["run"]}/slurmd.pid
SlurmctldLogFile={d["log"]}/slurmctld.log
SlurmdLogFile={d["log"]}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={d["etc"]}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName={node} NodeAddr=127.0.0.1 NodeHostname={node} CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
    )
    return conf, {"node": node, "cpus": cpus, "real_memory_mb": mem}


# --------------------------------------------------------------------------- config inside jobs


def _can_private_mount(etc: Path) -> bool:
    """Whether slurmd can get a private mount namespace with ``etc`` over the config dir."""
    if not Path(DEFAULT_CONF_DIR).is_dir() or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        _in_private_mount(etc, f"test -f {DEFAULT_CONF_DIR}/slurm.conf"), capture_output=True
    )
    return probe.returncode == 0


def _in_private_mount(etc: Path, shell_command: str, *arguments: str) -> list[str]:
    """Run ``shell_command`` (with ``arguments`` as "$@") in a private mount namespace in which
    ``etc`` is bind-mounted over the compiled-in config dir."""
    return [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        f'mount --bind "$0" {DEFAULT_CONF_DIR} && {shell_command}',
        str(etc),
        *arguments,
    ]


def _write_wrappers(workdir: Path, conf: Path) -> Path:
    """Fallback: SLURM client wrappers that set SLURM_CONF (put first on PATH of jobs)."""
    bindir = workdir / "bin"
    bindir.mkdir(exist_ok=True)
    for tool in ("srun", "sbatch", "squeue", "scancel", "sinfo", "scontrol", "sacct", "salloc"):
        real = shutil.which(tool)
        if real:
            w = bindir / tool
            w.write_text(f'#!/bin/sh\nexport SLURM_CONF="{conf}"\nexec {real} "$@"\n')
            w.chmod(0o755)
    return bindir


# --------------------------------------------------------------------------- start / stop


def _read_state(workdir: Path) -> dict | None:
    try:
        return json.loads((workdir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def stop(workdir: Path) -> None:
    """Stop the daemons recorded in ``workdir`` (cancelling their jobs first)."""
    workdir = Path(workdir).resolve()
    state = _read_state(workdir)
    if not state:
        return
    pids = state.get("pids", {})
    marker = _marker(workdir)
    env = {**os.environ, "SLURM_CONF": state["conf"]}
    if _pid_alive(pids.get("slurmctld", -1)):
        # cancel running jobs so their slurmstepd processes go away with them
        def active_jobs() -> list[str]:
            return subprocess.run(
                ["squeue", "-h", "-t", "PD,R,CG,S", "-o", "%i"],
                env=env,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.split()

        with contextlib.suppress(OSError, subprocess.SubprocessError):
            jobs = active_jobs()
            if jobs:
                subprocess.run(["scancel", *jobs], env=env, capture_output=True, timeout=10)
            deadline = time.monotonic() + 15
            while jobs and time.monotonic() < deadline:
                time.sleep(0.5)
                jobs = active_jobs()
    for name in ("slurmd", "slurmctld", "munged"):
        if name in pids:
            _stop_pid(pids[name], marker)
    (workdir / STATE_FILE).unlink(missing_ok=True)


def _popen(cmd: list[str], log: Path, env: dict[str, str], tie_to_parent: bool):
    with open(log, "ab") as fh:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_set_pdeathsig if tie_to_parent else None,
        )


def _munge_ok(sock: Path) -> bool:
    try:
        cred = subprocess.run(
            ["munge", "-n", "-S", str(sock)], capture_output=True, timeout=5, check=True
        ).stdout
        subprocess.run(
            ["unmunge", "-S", str(sock)], input=cred, capture_output=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _wait(pred, timeout: float, what: str, workdir: Path, procs: dict) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        for name, p in procs.items():
            if p.poll() is not None:
                raise SlurmClusterError(
                    f"{name} exited with code {p.returncode} while waiting for {what}\n"
                    + _logs(workdir)
                )
        time.sleep(0.25)
    raise SlurmClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n" + _logs(workdir))


def _start_munged(workdir: Path, env: dict, tie: bool) -> tuple[subprocess.Popen | None, Path]:
    """Own munged (own key and socket in workdir); fall back to the system key and socket."""
    munged = _which("munged")
    mdir = workdir / "munge"
    mdir.mkdir(mode=0o755, exist_ok=True)
    mdir.chmod(0o755)  # munged wants its socket directory world-executable
    key = mdir / "munge.key"
    if not key.exists():
        _write_munge_key(key)
    log = workdir / "log" / "munged.log"
    try:
        sock = _socket_path(workdir)
        args = [
            munged,
            "-F",
            "-f",
            f"--socket={sock}",
            f"--key-file={key}",
            f"--pid-file={mdir / 'munged.pid'}",
            f"--seed-file={mdir / 'munged.seed'}",
            f"--log-file={log}",
        ]
        proc = _popen(args, log, env, tie)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if sock.exists() and _munge_ok(sock):
                return proc, sock
            time.sleep(0.1)
        _stop_pid(proc.pid, _marker(workdir))
    except SlurmClusterError:
        pass
    # fallback: the system munged (socket /run/munge, key /etc/munge): use a running one as
    # is (never stopped here), else start one in the foreground and own it
    sock = SYSTEM_MUNGE_SOCKET
    if _munge_ok(sock):
        return None, sock
    _ensure_system_munge_key()
    sock.parent.mkdir(parents=True, exist_ok=True)
    args = [
        munged,
        "-F",
        "-f",
        f"--socket={sock}",
        f"--log-file={log}",
        f"--pid-file={mdir / 'munged.pid'}",
        f"--seed-file={mdir / 'munged.seed'}",
        f"--key-file={SYSTEM_MUNGE_KEY}",
    ]
    proc = _popen(args, log, env, tie)
    _wait(lambda: _munge_ok(sock), 15, "munged (system socket)", workdir, {"munged": proc})
    return proc, sock


def start(workdir: Path, *, timeout: float = 60.0, tie_to_parent: bool = False) -> SlurmInfo:
    """Start munged, slurmctld and slurmd for a fresh cluster in ``workdir``."""
    ensure_installed()
    if os.geteuid() != 0:
        raise SlurmClusterError("the local SLURM cluster runs its daemons as root")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stop(workdir)  # leftovers of an earlier (possibly killed) run in the same directory
    for sub in ("etc", "bin", "state", "spool", "log", "run", "munge"):
        shutil.rmtree(workdir / sub, ignore_errors=True)
    (workdir / "log").mkdir()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    procs: dict[str, subprocess.Popen] = {}
    state: dict = {"pids": {}}

    def record() -> None:
        state["pids"] = {k: p.pid for k, p in procs.items()}
        (workdir / STATE_FILE).write_text(json.dumps(state, indent=2))

    try:
        munged_proc, sock = _start_munged(workdir, base_env, tie_to_parent)
        if munged_proc is not None:
            procs["munged"] = munged_proc
        conf, meta = write_config(workdir, sock)
        env = {**base_env, "SLURM_CONF": str(conf)}
        state.update(conf=str(conf), **meta)
        record()
        procs["slurmctld"] = _popen(
            [_which("slurmctld"), "-D", "-c", "-i", "-f", str(conf)],
            workdir / "log" / "slurmctld.out",
            env,
            tie_to_parent,
        )
        record()

        def ctld_up() -> bool:
            r = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True)
            return "UP" in r.stdout

        _wait(ctld_up, timeout, "slurmctld to answer", workdir, procs)
        slurmd_cmd = [_which("slurmd"), "-D", "-f", str(conf), "-N", meta["node"]]
        if _can_private_mount(conf.parent):
            # Jobs inherit slurmd's mount namespace, in which our etc/ is bind-mounted over
            # the compiled-in config dir: `srun` inside a job then finds this slurm.conf even
            # though snakemake-executor-plugin-slurm-jobstep strips SLURM_CONF from its env.
            slurmd_cmd = _in_private_mount(conf.parent, 'exec "$@"', *slurmd_cmd)
            state["conf_in_jobs"] = "mount-namespace"
        else:
            env["PATH"] = f"{_write_wrappers(workdir, conf)}:{env.get('PATH', '')}"
            state["conf_in_jobs"] = "path-wrappers"
        procs["slurmd"] = _popen(slurmd_cmd, workdir / "log" / "slurmd.out", env, tie_to_parent)
        state["env"] = {k: env[k] for k in ("SLURM_CONF", "PATH")}
        record()

        def node_idle() -> bool:
            r = subprocess.run(
                ["sinfo", "-h", "-N", "-n", meta["node"], "-p", PARTITION, "-o", "%T"],
                env=env,
                capture_output=True,
                text=True,
            )
            return r.stdout.strip() == "idle"

        _wait(node_idle, timeout, f"node {meta['node']} to become idle", workdir, procs)
    except BaseException:
        stop(workdir)
        for p in procs.values():  # in case the state file was never written
            _stop_pid(p.pid, _marker(workdir))
        raise
    return SlurmInfo(
        workdir=workdir,
        conf=conf,
        node=meta["node"],
        partition=PARTITION,
        cpus=meta["cpus"],
        real_memory_mb=meta["real_memory_mb"],
        pids=dict(state["pids"]),
        env=env,
    )


@contextlib.contextmanager
def local_slurm(workdir: Path, *, timeout: float = 60.0) -> Iterator[SlurmInfo]:
    """Run a single-node SLURM cluster in ``workdir`` for the duration of the block."""
    workdir = Path(workdir)
    info = start(workdir, timeout=timeout, tie_to_parent=True)
    try:
        yield info
    finally:
        stop(info.workdir)


# --------------------------------------------------------------------------- command line


def status(workdir: Path) -> tuple[bool, str]:
    workdir = Path(workdir).resolve()
    state = _read_state(workdir)
    if not state:
        return False, f"no cluster recorded in {workdir}"
    lines = [f"SLURM_CONF={state['conf']}"]
    up = True
    for name, pid in state.get("pids", {}).items():
        alive = _pid_alive(pid) and _pid_is_ours(pid, _marker(workdir))
        up &= alive
        lines.append(f"{name:10s} pid {pid:<8d} {'running' if alive else 'DEAD'}")
    if up:
        env = {**os.environ, "SLURM_CONF": state["conf"]}
        r = subprocess.run(["sinfo"], env=env, capture_output=True, text=True)
        lines.append(r.stdout.rstrip() or r.stderr.rstrip())
    return up, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["start", "stop", "status"])
    ap.add_argument("--dir", required=True, type=Path, help="cluster directory")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    try:
        if args.action == "start":
            t0 = time.monotonic()
            info = start(args.dir, timeout=args.timeout)
            print(
                f"# SLURM up in {time.monotonic() - t0:.1f}s: node {info.node}, "
                f"{info.cpus} CPUs, {info.real_memory_mb} MB, partition {info.partition}",
                file=sys.stderr,
            )
            print(f"export SLURM_CONF={info.conf}")
            if info.env.get("PATH") != os.environ.get("PATH"):  # srun/sbatch wrappers in use
                print(f"export PATH={info.env['PATH']}")
        elif args.action == "stop":
            stop(args.dir)
        else:
            up, text = status(args.dir)
            print(text)
            return 0 if up else 1
    except SlurmClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
