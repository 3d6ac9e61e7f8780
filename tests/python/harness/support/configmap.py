"""A folder laid out and updated the way the kubelet does for a mounted ConfigMap.

    policy.yaml -> ..data/policy.yaml
    ..data      -> ..2026_11_26_06_10_00.000001      (a symlink)
    ..2026_11_26_06_10_00.000001/policy.yaml         (the real file)

An update writes a new timestamped folder, points a temporary symlink at it and renames
that over `..data` (one atomic step), then deletes the old folder. A watcher on
`policy.yaml` alone misses this: the file's path never changes, only the symlink does.
"""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path


class ConfigMapDir:
    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._current: Path | None = None
        self.update(files)
        for name in files:
            link = root / name
            if not link.is_symlink():
                os.symlink(f"..data/{name}", link)

    def path(self, name: str) -> Path:
        return self.root / name

    def update(self, files: dict[str, str]) -> None:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
        new = self.root / stamp
        new.mkdir()
        for name, text in files.items():
            (new / name).write_text(text)
        tmp = self.root / "..data_tmp"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(stamp, tmp)
        os.rename(tmp, self.root / "..data")  # atomic swap, as the kubelet does
        if self._current is not None:
            shutil.rmtree(self._current)
        self._current = new
