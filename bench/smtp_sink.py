"""A local SMTP server that accepts every message and counts it: where the bench's worker
delivers. `--delay-file` holds the seconds to wait before answering each message (0 unless the
driver writes another number), so the driver can make the mail server slow mid-run.

    python -m bench.smtp_sink --port 8601 --count-file var/x/count --delay-file var/x/delay
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self, count_file: Path, delay_file: Path) -> None:
        self.count_file = count_file
        self.delay_file = delay_file
        self.count = 0
        self.lock = threading.Lock()
        self._write()

    def _delay(self) -> float:
        try:
            return max(0.0, float(self.delay_file.read_text().strip() or 0))
        except (OSError, ValueError):
            return 0.0

    def _write(self) -> None:
        tmp = self.count_file.with_suffix(".tmp")
        tmp.write_text(f"{self.count} {time.time():.3f}\n")
        os.replace(tmp, self.count_file)

    async def handle_DATA(self, server, session, envelope):
        delay = self._delay()
        if delay:
            await asyncio.sleep(delay)
        with self.lock:
            self.count += 1
            self._write()
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-file", type=Path, required=True)
    parser.add_argument("--delay-file", type=Path, required=True)
    args = parser.parse_args()
    handler = CountingHandler(args.count_file, args.delay_file)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
