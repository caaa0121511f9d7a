"""The demo accounts' SDK keystores, kept between runs in ``<data_dir>/demo/keys.json``.

Without it every run would restore each account from its backup as a new device and
soon reach the device limit. The file holds private keys (of demo accounts only), so
it is written 0600 in a 0700 directory. If it is lost, the seeder restores from the
backups with the cast's recovery passphrases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from e2e_crypto.client import Keystore


class Keyring:
    def __init__(self, directory: Path) -> None:
        self._path = directory / "keys.json"
        self._states: dict[str, dict[str, Any]] = {}
        if self._path.is_file():
            self._states = json.loads(self._path.read_text(encoding="utf-8"))

    def get(self, account_id: str) -> Keystore | None:
        state = self._states.get(account_id)
        return Keystore.from_state(state) if state is not None else None

    def put(self, keystore: Keystore) -> None:
        self._states[keystore.account_id] = keystore.export_state()
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self._path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._states, out)
        temporary.replace(self._path)
