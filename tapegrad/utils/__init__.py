"""tapegrad.utils: data loading (tapegrad.utils.data)."""

from . import data
