"""Synthetic program data with known true effects.

* :func:`synth` -> :class:`SynthData` (canonical episodes, follow-ups, sessions and
  ``.truth``); the generative model and its estimands are in :mod:`iopstats.synth.truth`.
* :func:`write_tedsd_csv` (in :mod:`iopstats.synth.tedsd`) writes TEDS-D public-format files.
"""

from __future__ import annotations

from iopstats.synth.generate import SynthData, synth

__all__ = ["SynthData", "synth"]
