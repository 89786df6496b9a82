"""The base of the datasets that sgnn simulates instead of downloading."""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from collections.abc import Sequence
from typing import Any

from torch_geometric.data import Data, InMemoryDataset

from .._io import atomic_write, check_cache_root

__all__ = ["SimulatedDataset"]


#: What torch.load raises on a truncated, empty or foreign file.
_CORRUPT = (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError,
            pickle.UnpicklingError)  # fmt: skip


class SimulatedDataset(InMemoryDataset):
    """Base of the datasets sgnn simulates (:class:`~sgnn.data.SandpileAvalanches`,
    :class:`~sgnn.data.NBodyCharged`): nothing to download, one processed folder per
    configuration (a subclass's ``processed_file_names`` names it from every parameter
    that changes the content), names tagged by the pre-transform, atomic saves, and
    corrupt cache files regenerated with a warning. A ``root`` that is a file, or lies
    under one, raises a ``ValueError`` naming it."""

    def __init__(self, root: str, *args: Any, **kwargs: Any) -> None:
        check_cache_root(root, "root")
        super().__init__(root, *args, **kwargs)

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_dir(self) -> str:
        # One folder per configuration: PyG's pre_transform.pt bookkeeping then
        # describes exactly the files beside it.
        name = self.processed_file_names
        return os.path.join(self.root, "processed", name[: -len(".pt")])

    def download(self) -> None:  # nothing to download: samples are simulated
        pass

    def _pre_transform_tag(self) -> str:
        """``"_pre<hash>"`` of the pre-transform's repr, or ``""`` without one."""
        if self.pre_transform is None:
            return ""
        return "_pre" + hashlib.sha1(repr(self.pre_transform).encode()).hexdigest()[:10]

    def _load_cache(self, path: str) -> None:
        """Load the processed file; one that is corrupt (truncated, empty, not ours) is
        regenerated: the cache is sgnn's own, its content a function of the parameters."""
        try:
            self.load(path)
            return
        except _CORRUPT as err:
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        warnings.warn(f"dataset cache file {path} is corrupt ({reason}); regenerating it",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        os.remove(path)
        self.process()
        try:
            self.load(path)
        except _CORRUPT as err:
            raise ValueError(f"dataset cache file {path} is corrupt even after regenerating "
                             f"it ({err}); delete {os.path.dirname(path)} and try again"
                             ) from None  # fmt: skip

    def _save_atomically(self, data_list: Sequence[Data], path: str) -> None:
        atomic_write(path, lambda tmp: self.save(list(data_list), tmp))
