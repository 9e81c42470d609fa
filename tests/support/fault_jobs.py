"""An RQ job that is slow before it does the real work, for killing a worker mid-job."""
from __future__ import annotations

import os
import time
from pathlib import Path


def slow_fire(deadline_id: int, pid_path: str, seconds: float = 5.0) -> str:
    """Write this process's pid, sleep, then run the real deadline job."""
    Path(pid_path).write_text(str(os.getpid()))
    time.sleep(seconds)
    from caseflow.jobs.deadlines import fire_deadline

    return fire_deadline(deadline_id)
