"""Saving and loading state_dicts as safetensors files."""

import os
from collections import OrderedDict

from lucid import _C


def save(state_dict, path):
    """Writes a name -> Tensor mapping (a Module's state_dict) to ``path`` in the
    safetensors format. The file is written beside ``path`` and renamed over it,
    so a crash mid-save never destroys a previous checkpoint."""
    _C.save(list(state_dict.items()), os.fspath(path))


def load(path):
    """Reads a safetensors file of float32/float64 tensors into an OrderedDict.
    A missing, truncated or malformed file raises ValueError naming the path."""
    return OrderedDict(_C.load(os.fspath(path)))
