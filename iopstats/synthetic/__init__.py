"""Synthetic program data with known true effects.

* :func:`iopstats.synth` (here :func:`synth`) -> :class:`SynthData` (canonical
  episodes, follow-ups, sessions and ``.truth``); the generative model and its
  estimands are in :mod:`iopstats.synthetic.truth`.
* :func:`write_tedsd_csv` (in :mod:`iopstats.synthetic.tedsd`) writes TEDS-D
  public-format files.

Examples
--------
>>> import iopstats
>>> len(iopstats.synth(50, seed=1).episodes)
50
"""

from __future__ import annotations

from iopstats.synthetic.generate import SynthData, synth

__all__ = ["SynthData", "synth"]
