"""The child process of ``bench.poll_service.ServiceProcess``: one in-service cycle per ``cycle`` line on stdin.

Nothing is imported at the top: the parse workers the service spawns import this module as their main one, as
``watcher run``'s workers import its small script.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


def serve(config: Path, database: Path) -> None:
    from bench.poll_service import InService, quiet_logging
    from watcher.config import load_settings

    with quiet_logging():
        service = InService(load_settings(config, env={}), database)
        try:
            for _ in sys.stdin:
                usage, saw = service.cycle()
                print(json.dumps({**dataclasses.asdict(usage), "saw": saw}), flush=True)
        finally:
            service.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
