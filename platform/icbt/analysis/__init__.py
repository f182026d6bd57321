"""The trial analysis: pure statistics over plain values (no database, no app).

- ``stats``: residual gain, Pearson/Spearman correlations, descriptives, effect sizes,
  change categories, CONSORT flow counts.
- ``apa``: numbers formatted as a paper reports them (``r = -.47, p = .019, n = 25``).
- ``dataset``: ``TrialDataset`` and ``ParticipantData``, the analysis's input, and its fingerprint.
- ``results``: ``analyse(dataset, params) -> dict``, the content of ``results.json``.
"""
from icbt.analysis.dataset import AllianceScores, ParticipantData, TrialDataset, data_fingerprint
from icbt.analysis.results import AnalysisParameters, ParameterError, analyse

__all__ = [
    "AllianceScores", "ParticipantData", "TrialDataset", "data_fingerprint",
    "AnalysisParameters", "ParameterError", "analyse",
]
