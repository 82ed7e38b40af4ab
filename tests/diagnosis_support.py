"""Test helper for the saved demo diagnosis (benchmarks/diagnose_demo.py's rows), shared by the
reader's tests and the training page's."""


def diagnosis_row(variant: str, vessel: str, folds: str, gap: float, margin: float) -> dict:
    """One row of a saved diagnosis: the network ``gap`` above an ST-level regression at 0.8,
    and its own output ``margin`` ahead of the best other output at 0.7."""
    return {
        "variant": variant,
        "folds": folds,
        "vessel": vessel,
        "auc": 0.8 + gap,
        "auc_lr": 0.8,
        "gap_to_lr": gap,
        "own_among_other": 0.7,
        "best_other_head": 0.7 - margin,
        "specificity_margin": margin,
        "relative_cost": 1.0,
    }
