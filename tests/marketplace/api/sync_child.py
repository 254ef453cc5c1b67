"""A sync run in its own process, for the kill test: `python sync_child.py HOME DB CHUNK TO KILL_AT`.

It prints one line per committed chunk. With KILL_AT > 0 it SIGKILLs itself inside chunk
KILL_AT's transaction (after writing its rows, before the commit): the worst moment to die.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from marketplace.api.indexer import ChainSource, ChunkProgress, Indexer
from marketplace.chain.factory import make_client
from marketplace.settings import Settings


def main(home: str, db: str, chunk: str, to_block: str, kill_at: str) -> None:
    source = ChainSource(make_client(Settings(home=Path(home))))

    def on_chunk(progress: ChunkProgress) -> None:
        if progress.number == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
        print(f"chunk {progress.number} {progress.to_block}", flush=True)

    indexer = Indexer(source, Path(db), chunk_size=int(chunk), on_chunk=on_chunk)
    indexer.sync(to_block=int(to_block))


if __name__ == "__main__":
    main(*sys.argv[1:])
