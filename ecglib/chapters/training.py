"""Tables and sentences about a trained fold, for the training chapter."""
from __future__ import annotations

import pandas as pd

from ecglib import schema
from ecglib.config import RunParams
from ecglib.train.fit import FoldResult
from ecglib.train.validate import macro_auc, vessel_aucs

__all__ = ["initialisation_note", "fold_auc_table", "heldout_aucs"]


def initialisation_note(params: RunParams) -> str:
    """A Markdown statement of where the network's starting weights came from."""
    if params.model.pretrained is None:
        return (
            "**Random initialisation.** This run's `model.pretrained` is `null`: Net1D starts from "
            "random weights (seeded from the run's seed and the fold), **not** from the pretrained "
            "ECGFounder checkpoint that the paper fine-tunes. The numbers below therefore show what "
            "the pipeline does on this cohort, not the paper's fine-tuning result. To fine-tune "
            "ECGFounder, put its released `12_lead_ECGFounder.pth` on this machine and set "
            "`model.pretrained` to its path (see `params/paper.yaml`)."
        )
    return (
        f"**Pretrained initialisation.** Net1D starts from the ECGFounder weights in "
        f"`{params.model.pretrained}`, loaded strictly (every tensor but the replaced 150-class "
        "head must match); the new 4-logit head is randomly initialised."
    )


def heldout_aucs(result: FoldResult, cohort: pd.DataFrame) -> dict[str, float]:
    """Per-vessel AUCs and ``macro`` of the fold's out-of-fold predictions (NaN if undefined)."""
    if result.oof is None:
        raise ValueError(f"fold {result.fold} has not finished: no out-of-fold predictions")
    rows = result.oof["row"].to_numpy()
    aucs = vessel_aucs(schema.binarise_grades(cohort.loc[rows]).to_numpy(),
                       result.oof[schema.prob_cols()].to_numpy())
    return {**aucs, "macro": macro_auc(aucs)}


def fold_auc_table(result: FoldResult, cohort: pd.DataFrame, roles: pd.Series | None = None
                   ) -> pd.DataFrame:
    """Per vessel (and macro): the chosen epoch's inner-validation AUC, the held-out fold's AUC,
    and the number of positive ECGs each was computed on (when ``roles`` is given). A vessel the
    cohort does not assess has missing AUCs and counts."""
    heldout = heldout_aucs(result, cohort)
    table = pd.DataFrame({
        "inner-validation AUC (chose the epoch)": {**result.inner_auc, "macro": result.inner_macro_auc},
        "held-out fold AUC (reported)": heldout,
    })
    if roles is not None:
        labels = schema.binarise_grades(cohort)
        assessed = schema.assessed_vessels(labels)
        for role, name in (("val", "inner-validation positives"), ("test", "held-out positives")):
            counts = labels.loc[(roles == role).to_numpy()].sum()
            table[name] = pd.array([int(counts[schema.label_col(v)]) if v in assessed else None
                                    for v in schema.VESSELS] + [None], dtype="Int64")
    table.index.name = "vessel"
    return table
