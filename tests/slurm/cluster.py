#!/usr/bin/env python3
"""Throw-away single-node SLURM cluster on 127.0.0.1, for tests and by hand.

No systemd and nothing in /etc: every config, state, socket, database and log
file lives under one directory that the harness owns (a fresh temp dir by
default).  Started daemons, in order:

    munged     own key and socket
    mariadbd   --skip-networking, unix socket only
    slurmdbd   accounting (sacct needs it), AccountingStorageType=slurmdbd
    slurmctld  controller
    slurmd     the single compute node (CPUs/RealMemory of this machine by
               default, plus 2 fake GPUs of type "fakegpu" declared as GRES so
               that --gpus=N and --gpus=fakegpu:N are scheduled)

Partitions "debug" (default) and "gpu", both on that node; account "drscale"
for user root in cluster "drscale" (sacctmgr), AccountingStorageEnforce=
associations, so a wrong account is rejected as on a real cluster.

Every port is bound on 127.0.0.1 only (CommunicationParameters=
NoCtldInAddrAny,NoInAddrAny in slurm.conf and slurmdbd.conf, DbdAddr and the
node's address set to 127.0.0.1).  All daemons run as root (SlurmUser and
SlurmdUser root), so this needs root.

Use from Python::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", ...], env=cluster.env(), check=True)
        # cluster.account / cluster.partition are real sacctmgr entries

Use by hand::

    python tests/slurm/cluster.py run -- snakemake --workflow-profile profiles/slurm ...
    python tests/slurm/cluster.py start --dir /tmp/myslurm   # prints `export ...`
    python tests/slurm/cluster.py stop --dir /tmp/myslurm

The daemons are always stopped: by the context manager, by an atexit hook, on
SIGTERM/SIGINT/SIGHUP, and -- if the owning process is killed outright -- by a
small watchdog process that kills them when its parent disappears (``start``
by hand detaches the watchdog; ``stop`` ends everything recorded in the
directory's pids.json).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REQUIRED_BINARIES = (
    "munged",
    "munge",
    "mariadbd",
    "mariadb-install-db",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sacctmgr",
    "sbatch",
    "srun",
    "sacct",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
)

NODE_NAME = "drscale-node"

CLIENT_COMMANDS = ("srun", "sbatch", "salloc", "sacct", "sacctmgr", "squeue",
                   "sinfo", "scontrol", "scancel", "sstat", "sshare", "sprio")


class SlurmUnavailable(RuntimeError):
    """The machine cannot run the throw-away cluster (not root, no binaries)."""


class SlurmStartError(RuntimeError):
    """A daemon did not come up; the message includes its log tail."""


# Daemons live in /usr/sbin, which is not on every PATH.
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])


def _which(cmd: str) -> str | None:
    return shutil.which(cmd, path=_SEARCH_PATH)


def missing_binaries() -> list[str]:
    return [b for b in REQUIRED_BINARIES if _which(b) is None]


def check_available() -> None:
    """Raise SlurmUnavailable with a clear reason if we cannot start a cluster."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("needs root (daemons run as SlurmUser=root)")
    missing = missing_binaries()
    if missing:
        raise SlurmUnavailable(
            "missing binaries: " + ", ".join(missing)
            + " (run `bash tests/slurm/install.sh`)"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_mem_mb() -> int:
    """MemTotal of this machine in MB."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 2048


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(lines[-n:])


def _kill_group(pid: int, sig: int) -> None:
    """Signal the process group we created for ``pid`` (start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def cluster_job_processes(root: Path) -> list[int]:
    """slurmstepd and job processes of the cluster under ``root``.

    They are not in the daemons' process groups (slurmstepd and job tasks get
    their own), so they are found by the cluster's directory in their
    environment (SLURM_CONF and the wrapper dir on PATH) -- unique to this
    cluster -- and by being a slurmstepd or carrying SLURM_JOB_ID.
    """
    marker = f"{Path(root).resolve()}/".encode()
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if marker in environ and (comm == "slurmstepd" or b"SLURM_JOB_ID=" in environ):
            pids.append(int(entry))
    return pids


def _kill_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_recorded(root: Path, timeout: float = 10.0) -> list[str]:
    """Stop every daemon recorded in ``root/pids.json`` (newest first) and
    whatever job processes of that cluster are left."""
    root = Path(root)
    _kill_pids(cluster_job_processes(root), signal.SIGKILL)
    pid_file = root / "pids.json"
    stopped = []
    entries = json.loads(pid_file.read_text()) if pid_file.exists() else []
    for name, pid in reversed(entries):
        if _alive(pid):
            _kill_group(pid, signal.SIGTERM)
            stopped.append(name)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # Also sweep the group (e.g. slurmctld's slurmscriptd).
        _kill_group(pid, signal.SIGKILL)
    # Steps that were still starting while slurmd went down.
    _kill_pids(cluster_job_processes(root), signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return stopped


# Runs beside the harness; if the harness dies without stopping the cluster
# (SIGKILL, OOM killer, CI timeout), it runs `cluster.py stop --dir ROOT`.
_WATCHDOG = r"""
import os, subprocess, sys, time
parent, script, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pid_file = os.path.join(root, "pids.json")
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    if not os.path.exists(pid_file):
        sys.exit(0)
    time.sleep(1)
if os.path.exists(pid_file):
    subprocess.run([sys.executable, script, "stop", "--dir", root], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


class SlurmCluster:
    """A single-node SLURM (with accounting) under one directory."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        cluster_name: str = "drscale",
        account: str = "drscale",
        partition: str = "debug",
        gpu_partition: str = "gpu",
        gpus: int = 2,
        gpu_type: str = "fakegpu",
        cpus: int | None = None,
        mem_mb: int | None = None,
        keep_dir: bool = False,
        watchdog: bool = True,
        verbose: bool = False,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="drscale-slurm-")).resolve()
        self.cluster_name = cluster_name
        self.account = account
        self.partition = partition          # default partition
        self.gpu_partition = gpu_partition  # second partition, same node
        self.gpu_type = gpu_type            # GRES type, for --gpus=<type>:N
        self.gpus = gpus
        self.cpus = cpus or os.cpu_count() or 1
        # Leave some room for the OS and the daemons themselves.
        self.mem_mb = mem_mb or max(1024, machine_mem_mb() - 1024)
        self.keep_dir = keep_dir
        self.watchdog = watchdog
        self.verbose = verbose
        self.user = "root"
        self.host = socket.gethostname().split(".")[0]
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._watchdog_proc: subprocess.Popen | None = None
        self._started = False
        self.startup_seconds: float | None = None

        d = self.root
        self.etc = d / "etc"
        self.log = d / "log"
        self.run_dir = d / "run"
        self.state = d / "state"
        self.spool = d / "spool"
        self.db = d / "db"
        self.munge_dir = d / "munge"
        self.bin_dir = d / "bin"
        self.slurm_conf = self.etc / "slurm.conf"
        self.dbd_conf = self.etc / "slurmdbd.conf"
        self.gres_conf = self.etc / "gres.conf"
        self._sock_dir: Path | None = None
        self.munge_socket = self.run_dir / "munge.socket"
        self.mysql_socket = self.run_dir / "mysqld.sock"
        self.ports = {}

    # ------------------------------------------------------------------ env
    def env(self, base: dict | None = None) -> dict:
        """Environment for client commands (sbatch, sacct, snakemake...)."""
        env = dict(os.environ if base is None else base)
        for var in list(env):
            # Never leak an outer job's SLURM context into our clients.
            if var.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")):
                del env[var]
        env["SLURM_CONF"] = str(self.slurm_conf)
        # Wrappers that pin SLURM_CONF come first on PATH: the slurm-jobstep
        # plugin strips SLURM_* variables (SLURM_CONF too) before it calls
        # `srun` inside a job, and this cluster has no /etc/slurm/slurm.conf.
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def _daemon_env(self) -> dict:
        env = self.env()
        env["MYSQL_UNIX_PORT"] = str(self.mysql_socket)
        return env

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 90.0) -> SlurmCluster:
        check_available()
        t0 = time.monotonic()
        for p in (self.etc, self.log, self.run_dir, self.state, self.spool,
                  self.db, self.munge_dir):
            p.mkdir(parents=True, exist_ok=True)
            p.chmod(0o700)
        self.root.chmod(0o700)
        if len(str(self.run_dir)) > 80:
            # Unix socket paths must stay under ~107 bytes; with a deep root
            # (pytest --basetemp ...) put the two sockets into a short temp dir.
            self._sock_dir = Path(tempfile.mkdtemp(prefix="drs-", dir="/tmp"))
            self.munge_socket = self._sock_dir / "munge.socket"
            self.mysql_socket = self._sock_dir / "mysqld.sock"
        self._started = True
        atexit.register(self.stop)
        self._install_signal_handlers()
        try:
            self._start_munge(timeout)
            self._start_mariadb(timeout)
            self._write_configs()
            self._start_slurmdbd(timeout)
            self._create_associations()
            self._start_slurmctld(timeout)
            self._start_slurmd(timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        self._say(f"SLURM up in {self.startup_seconds:.1f}s (SLURM_CONF={self.slurm_conf})")
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        # Cancel jobs first so slurmd can clean up its steps.
        if self._proc_alive("slurmctld"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(["scancel", "--full", "--user", self.user],
                               env=self.env(), capture_output=True, timeout=15,
                               check=False)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and cluster_job_processes(self.root):
                time.sleep(0.2)
        stop_recorded(self.root)
        for _name, proc in reversed(self._procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        self._procs.clear()
        if self._watchdog_proc is not None:
            self._watchdog_proc.terminate()
            try:
                self._watchdog_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._watchdog_proc.kill()
            self._watchdog_proc = None
        if self._own_root and not self.keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def _proc_alive(self, name: str) -> bool:
        return any(n == name and p.poll() is None for n, p in self._procs)

    def _install_signal_handlers(self) -> None:
        def handler(signum, frame):
            self.stop()
            # Re-raise with the default action so exit status stays honest.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                if signal.getsignal(sig) in (signal.SIG_DFL, None):
                    signal.signal(sig, handler)
            except ValueError:  # not in main thread
                pass

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(f"[slurm-cluster] {msg}", file=sys.stderr, flush=True)

    # -------------------------------------------------------------- helpers
    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        argv = [_which(argv[0]) or argv[0], *argv[1:]]
        with open(self.log / f"{name}.out", "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env or self._daemon_env(),
                cwd=self.root,
                start_new_session=True,  # own process group: easy to kill all
            )
        self._procs.append((name, proc))
        self._record_pids()
        self._say(f"started {name} (pid {proc.pid})")
        return proc

    def _record_pids(self) -> None:
        entries = [(n, p.pid) for n, p in self._procs]
        tmp = self.root / "pids.json.tmp"
        tmp.write_text(json.dumps(entries))
        tmp.replace(self.root / "pids.json")
        if self.watchdog and self._watchdog_proc is None:
            self._watchdog_proc = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(os.getpid()),
                 str(Path(__file__).resolve()), str(self.root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )

    def _wait_for(self, what: str, check, timeout: float, logs: list[Path],
                  proc_name: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if check():
                return
            if proc_name is not None:
                for n, p in self._procs:
                    if n == proc_name and p.poll() is not None:
                        raise SlurmStartError(
                            f"{proc_name} exited with {p.returncode} while "
                            f"waiting for {what}:\n" + self._log_tails(logs))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise SlurmStartError(f"timed out waiting for {what}:\n" + self._log_tails(logs))

    def _log_tails(self, logs: list[Path]) -> str:
        return "\n".join(f"--- {p} ---\n{_tail(p)}" for p in logs)

    def _ok(self, argv: list[str], **kw) -> bool:
        try:
            return subprocess.run(argv, env=self._daemon_env(), capture_output=True,
                                  timeout=10, check=False, **kw).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        res = subprocess.run(argv, env=self._daemon_env(), capture_output=True,
                             text=True, timeout=60, check=False, **kw)
        if res.returncode != 0:
            raise SlurmStartError(
                f"{' '.join(argv)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    # --------------------------------------------------------------- munge
    def _start_munge(self, timeout: float) -> None:
        key = self.munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        log = self.log / "munged.log"
        self._spawn("munged", [
            "munged", "--foreground", "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={key}",
            f"--pid-file={self.run_dir / 'munged.pid'}",
            f"--log-file={log}",
            f"--seed-file={self.munge_dir / 'munged.seed'}",
            "--num-threads=2",
        ])

        def munge_works() -> bool:
            if not self.munge_socket.exists():
                return False
            cred = subprocess.run(["munge", "-n", "-S", str(self.munge_socket)],
                                  capture_output=True, check=False)
            if cred.returncode != 0:
                return False
            return subprocess.run(["unmunge", "-S", str(self.munge_socket)],
                                  input=cred.stdout, capture_output=True,
                                  check=False).returncode == 0

        self._wait_for("munged", munge_works, timeout,
                       [log, self.log / "munged.out"], "munged")

    # ------------------------------------------------------------- mariadb
    def _start_mariadb(self, timeout: float) -> None:
        datadir = self.db / "data"
        log = self.log / "mariadb.err"
        if not (datadir / "mysql").exists():
            self._run([
                "mariadb-install-db", "--no-defaults", f"--datadir={datadir}",
                "--user=root", "--auth-root-authentication-method=socket",
                "--skip-test-db", "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
            ])
        self._spawn("mariadbd", [
            "mariadbd", "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={self.mysql_socket}",
            f"--pid-file={self.run_dir / 'mariadbd.pid'}",
            f"--log-error={log}",
            "--skip-networking",
            "--user=root",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-lock-wait-timeout=900",
            "--max-connections=50",
            "--performance-schema=OFF",
        ])
        client = _which("mariadb") or _which("mysql") or "mariadb"
        self._wait_for(
            "mariadbd",
            lambda: self.mysql_socket.exists() and self._ok(
                [client, "--no-defaults", "-S", str(self.mysql_socket), "-u", "root",
                 "-e", "SELECT 1"]),
            timeout, [log, self.log / "mariadbd.out"], "mariadbd")

    # -------------------------------------------------------------- config
    def _write_configs(self) -> None:
        ctld_port, slurmd_port, dbd_port = _free_port(), _free_port(), _free_port()
        self.ports = {"slurmctld": ctld_port, "slurmd": slurmd_port, "slurmdbd": dbd_port}
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        comm = "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny\n"

        self.dbd_conf.write_text(textwrap.dedent(f"""\
            # generated by tests/slurm/cluster.py
            {auth.strip().splitlines()[0]}
            {auth.strip().splitlines()[1]}
            DbdAddr=127.0.0.1
            DbdHost={self.host}
            DbdPort={dbd_port}
            SlurmUser=root
            DebugLevel=info
            LogFile={self.log / 'slurmdbd.log'}
            PidFile={self.run_dir / 'slurmdbd.pid'}
            StorageType=accounting_storage/mysql
            StorageHost=localhost
            StorageUser=root
            StorageLoc=slurm_acct_db
            {comm.strip()}
            """))
        self.dbd_conf.chmod(0o600)

        gres_node = f" Gres=gpu:{self.gpu_type}:{self.gpus}" if self.gpus else ""
        node_line = (
            f"NodeName={NODE_NAME} NodeHostname={self.host} NodeAddr=127.0.0.1 "
            f"CPUs={self.cpus} Sockets=1 CoresPerSocket={self.cpus} ThreadsPerCore=1 "
            f"RealMemory={self.mem_mb}{gres_node} State=UNKNOWN"
        )
        self.slurm_conf.write_text(textwrap.dedent(f"""\
            # generated by tests/slurm/cluster.py -- single node on 127.0.0.1
            ClusterName={self.cluster_name}
            SlurmctldHost={self.host}(127.0.0.1)
            SlurmctldPort={ctld_port}
            SlurmdPort={slurmd_port}
            {auth.strip().splitlines()[0]}
            {auth.strip().splitlines()[1]}
            {comm.strip()}
            SlurmUser=root
            SlurmdUser=root
            StateSaveLocation={self.state}
            SlurmdSpoolDir={self.spool}
            SlurmctldPidFile={self.run_dir / 'slurmctld.pid'}
            SlurmdPidFile={self.run_dir / 'slurmd-%n.pid'}
            SlurmctldLogFile={self.log / 'slurmctld.log'}
            SlurmdLogFile={self.log / 'slurmd-%n.log'}
            SlurmctldDebug=info
            SlurmdDebug=info
            MpiDefault=none
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            SwitchType=switch/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU_Memory
            DefMemPerCPU=1024
            SchedulerType=sched/backfill
            AccountingStorageType=accounting_storage/slurmdbd
            AccountingStorageHost=127.0.0.1
            AccountingStoragePort={dbd_port}
            # for slurmdbd connections the munge socket is given here
            AccountingStoragePass={self.munge_socket}
            AccountingStorageEnforce=associations
            AccountingStorageTRES=gres/gpu
            AccountingStoreFlags=job_comment
            JobCompType=jobcomp/none
            GresTypes=gpu
            SlurmdParameters=config_overrides
            ReturnToService=2
            MailProg=/bin/true
            MinJobAge=300
            KillWait=5
            InactiveLimit=0
            SlurmctldTimeout=30
            SlurmdTimeout=60
            {node_line}
            PartitionName={self.partition} Nodes={NODE_NAME} Default=YES MaxTime=INFINITE State=UP
            PartitionName={self.gpu_partition} Nodes={NODE_NAME} Default=NO MaxTime=INFINITE State=UP
            """))
        # Fake GPUs: no device files, just a count, so --gpus=N can be
        # scheduled on a machine without GPUs.
        # Fake GPUs: slurmd wants a character device per GPU; borrow harmless
        # ones (TaskPlugin=task/none never constrains devices).
        fake_devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"]
        if self.gpus > len(fake_devices):
            raise ValueError(f"at most {len(fake_devices)} fake GPUs")
        lines = ["# generated by tests/slurm/cluster.py: fake GPUs", "AutoDetect=off"]
        lines += [f"NodeName={NODE_NAME} Name=gpu Type={self.gpu_type} File={dev}"
                  for dev in fake_devices[: self.gpus]]
        self.gres_conf.write_text("\n".join(lines) + "\n")
        # Jobs' srun/sbatch read plugstack.conf next to slurm.conf.
        (self.etc / "plugstack.conf").write_text("")
        self._write_client_wrappers()

    def _write_client_wrappers(self) -> None:
        """bin/<cmd> -> real <cmd> with SLURM_CONF pinned to this cluster.

        A real cluster node finds /etc/slurm/slurm.conf (or gets its config
        from slurmctld); ours only has SLURM_CONF, which the slurm-jobstep
        plugin removes from the environment of the `srun` it runs inside each
        job ("srun: fatal: Could not establish a configuration source").
        """
        self.bin_dir.mkdir(exist_ok=True)
        for cmd in CLIENT_COMMANDS:
            real = _which(cmd)
            if real is None or Path(real).parent == self.bin_dir:
                continue
            wrapper = self.bin_dir / cmd
            wrapper.write_text(
                "#!/bin/sh\n"
                "# generated by tests/slurm/cluster.py (see _write_client_wrappers)\n"
                f"SLURM_CONF='{self.slurm_conf}'\n"
                "export SLURM_CONF\n"
                f"exec '{real}' \"$@\"\n")
            wrapper.chmod(0o755)

    # ------------------------------------------------------------ slurmdbd
    def _start_slurmdbd(self, timeout: float) -> None:
        self._spawn("slurmdbd", ["slurmdbd", "-D"])
        self._wait_for(
            "slurmdbd",
            lambda: self._ok(["sacctmgr", "-n", "-P", "show", "cluster"]),
            timeout, [self.log / "slurmdbd.log", self.log / "slurmdbd.out"], "slurmdbd")

    def _create_associations(self) -> None:
        sam = ["sacctmgr", "-i"]
        self._run(sam + ["add", "cluster", self.cluster_name])
        self._run(sam + ["add", "account", self.account,
                         f"Cluster={self.cluster_name}",
                         "Description=drscale tests", "Organization=drscale"])
        self._run(sam + ["add", "user", self.user, f"Account={self.account}",
                         f"DefaultAccount={self.account}",
                         f"Cluster={self.cluster_name}"])

    # ----------------------------------------------------------- slurmctld
    def _start_slurmctld(self, timeout: float) -> None:
        self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait_for(
            "slurmctld",
            lambda: self._ok(["scontrol", "ping"]) and b"UP" in subprocess.run(
                ["scontrol", "ping"], env=self._daemon_env(), capture_output=True,
                check=False).stdout,
            timeout, [self.log / "slurmctld.log", self.log / "slurmctld.out"], "slurmctld")

    # -------------------------------------------------------------- slurmd
    def _start_slurmd(self, timeout: float) -> None:
        self._spawn("slurmd", ["slurmd", "-D", "-N", NODE_NAME])

        def node_idle() -> bool:
            res = subprocess.run(["sinfo", "-h", "-N", "-n", NODE_NAME, "-o", "%T"],
                                 env=self._daemon_env(), capture_output=True,
                                 text=True, check=False)
            state = res.stdout.strip().lower()
            return res.returncode == 0 and state.startswith(("idle", "mixed", "allocated"))

        logs = [self.log / f"slurmd-{NODE_NAME}.log", self.log / "slurmd.out",
                self.log / "slurmctld.log"]
        self._wait_for("slurmd to register", node_idle, timeout, logs, "slurmd")

    # -------------------------------------------------------------- extras
    def logs(self) -> str:
        """All daemon logs (tails), for failure messages."""
        return self._log_tails(sorted(self.log.glob("*")))


def _export_lines(cluster: SlurmCluster) -> str:
    return (
        f"export SLURM_CONF={cluster.slurm_conf}\n"
        f"export DRSCALE_SLURM_ACCOUNT={cluster.account}\n"
        f"export DRSCALE_SLURM_PARTITION={cluster.partition}\n"
        f"export DRSCALE_SLURM_GPU_PARTITION={cluster.gpu_partition}\n"
        f"export PATH={cluster.bin_dir}:$PATH\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="start, run a command against it, stop")
    p_run.add_argument("--dir", help="state dir (default: fresh temp dir, removed)")
    p_run.add_argument("--gpus", type=int, default=2, help="fake GPUs on the node")
    p_run.add_argument("command", nargs=argparse.REMAINDER)
    p_start = sub.add_parser("start", help="start in the background")
    p_start.add_argument("--dir", required=True)
    p_start.add_argument("--gpus", type=int, default=2)
    p_stop = sub.add_parser("stop", help="stop what `start --dir` started")
    p_stop.add_argument("--dir", required=True)
    args = ap.parse_args(argv)

    try:
        check_available()
    except SlurmUnavailable as e:
        if args.cmd != "stop":
            print(f"cannot start SLURM: {e}", file=sys.stderr)
            return 2

    if args.cmd == "stop":
        stopped = stop_recorded(Path(args.dir))
        print("stopped: " + (", ".join(stopped) or "nothing running"))
        return 0

    if args.cmd == "start":
        cluster = SlurmCluster(args.dir, gpus=args.gpus, verbose=True, watchdog=False)
        cluster.start()
        # Detach: leave the daemons running, forget them in this process.
        cluster._started = False
        atexit.unregister(cluster.stop)
        print(_export_lines(cluster), end="")
        print(f"# stop with: python {sys.argv[0]} stop --dir {cluster.root}", file=sys.stderr)
        return 0

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    with SlurmCluster(args.dir, gpus=args.gpus, verbose=True) as cluster:
        if not command:
            print(_export_lines(cluster), end="")
            print("# no command given; cluster up, Ctrl-C to stop", file=sys.stderr)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        env = cluster.env()
        env.setdefault("DRSCALE_SLURM_ACCOUNT", cluster.account)
        env.setdefault("DRSCALE_SLURM_PARTITION", cluster.partition)
        env.setdefault("DRSCALE_SLURM_GPU_PARTITION", cluster.gpu_partition)
        try:
            return subprocess.run(command, env=env, check=False).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
