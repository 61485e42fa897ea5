"""Who owns a run's checkpoint folder: one live train job at a time.

Snakemake does not stop running jobs when it is killed (SIGKILL), and after ``--unlock`` a rerun
starts the same runs again while the orphans still write the same checkpoint folders. A train
job therefore claims its folder with a lock file naming its host and pid before it touches it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
from pathlib import Path

logger = logging.getLogger(__name__)


class CheckpointFolderBusy(RuntimeError):
    """Another live process trains into the same checkpoint folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def claim_checkpoint_folder(checkpoint_dir: Path) -> Path:
    """Take ``<checkpoint_dir>.lock`` (host and pid of this process) until the process exits.

    A lock whose process is alive on this host (or any lock from another host, which cannot be
    checked) refuses the run; a lock left by a dead process is taken over. Returns the lock file.
    """
    lock = checkpoint_dir.with_name(checkpoint_dir.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                owner = json.loads(lock.read_text())
            except (OSError, ValueError):
                owner = {}  # half-written by a process killed at that moment
            if owner.get("host", me["host"]) != me["host"] or (owner.get("pid") and _alive(owner["pid"])):
                raise CheckpointFolderBusy(
                    f"{checkpoint_dir} is in use by process {owner.get('pid')} on {owner.get('host')} (lock "
                    f"{lock}), probably a train job left running by a killed Snakemake; stop that process "
                    f"(kill {owner.get('pid')}) and rerun, or delete the lock if that process is gone") from None
            logger.warning("taking over %s from process %s, which is gone", lock, owner.get("pid"))
            lock.unlink(missing_ok=True)
    with os.fdopen(fd, "w") as f:
        json.dump(me, f)
    atexit.register(_release, lock, me)
    return lock


def _release(lock: Path, me: dict) -> None:
    try:
        if json.loads(lock.read_text()) == me:
            lock.unlink()
    except (OSError, ValueError):
        pass
