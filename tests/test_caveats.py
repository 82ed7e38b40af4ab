"""What does not fit is said: each check fires on a toy case built to trigger it, and stays
silent on one that does not."""

import numpy as np
import pandas as pd

from ecglib.chapters import caveats
from ecglib.metrics.decision import decision_curve
from ecglib.metrics.nri import categorical_nri as compute_nri
from ecglib.metrics.small_counts import withhold


# ---------------------------------------------------------------- small counts
def _aucs(positives):
    n = 200
    return withhold(
        pd.DataFrame(
            {
                "set": ["external"] * len(positives),
                "vessel": ["RCA", "LM"][: len(positives)],
                "positives": positives,
                "negatives": [n - p for p in positives],
                "auc": [0.7] * len(positives),
                "ci_low": [0.6] * len(positives),
                "ci_high": [0.8] * len(positives),
            }
        ),
        5,
    )


def test_withheld_sentence_triggers_on_two_positives_only():
    label = lambda r: f"the {r['vessel']}, {r['set']}"  # noqa: E731
    text = caveats.withheld_sentence(_aucs([40, 2]), label, 5)
    assert text.startswith("The run reports no AUC, interval or test on fewer than 5 positive")
    assert text.endswith("not reported here: the LM, external: too few events (2).")
    assert "RCA" not in text
    assert caveats.withheld_sentence(_aucs([40, 5]), label, 5) is None


# ---------------------------------------------------------------- AUC below 0.5
def test_auc_below_half_triggers_with_its_interval():
    table = pd.DataFrame(
        {
            "vessel": ["RCA", "LCX", "LAD"],
            "auc": [0.71, 0.423, 0.38],
            "ci_low": [0.6, 0.30, 0.31],
            "ci_high": [0.8, 0.55, 0.46],
        }
    )
    text = caveats.auc_below_half_sentence(table, "vessel")
    assert "LCX (0.423, 95% CI 0.300-0.550, which includes 0.5)" in text
    assert "LAD (0.380, 95% CI 0.310-0.460, wholly below 0.5)" in text
    assert "RCA" not in text and text.startswith("These AUCs are below 0.5")


def test_auc_below_half_silent_at_and_above_half_and_on_withheld():
    table = pd.DataFrame({"vessel": ["RCA", "LM"], "auc": [0.5, np.nan]})
    assert caveats.auc_below_half_sentence(table, "vessel") is None


# ---------------------------------------------------------------- ensemble vs single
def test_ensemble_sentence_only_for_an_external_ensemble():
    text = caveats.ensemble_sentence(5, True)
    assert "mean of 5 fold models" in text and "not directly comparable" in text
    assert caveats.ensemble_sentence(1, True) is None
    assert caveats.ensemble_sentence(5, False) is None


# ---------------------------------------------------------------- strata
def _summary(rates, events, n):
    return pd.DataFrame(
        {
            "vessel": "LCX",
            "stratum": ["low", "intermediate", "high"],
            "n": n,
            "events": events,
            "event_rate": rates,
        }
    )


def test_non_monotone_strata_triggers_on_low_above_intermediate():
    # the demo's LCX: 20.4% low against 10.4% intermediate
    summary = _summary([10 / 49, 5 / 48, 30 / 60], [10, 5, 30], [49, 48, 60])
    text = caveats.non_monotone_strata_sentence(summary, "internal")
    assert text.startswith(
        "The event rates do not rise from the low to the high stratum (internal): for the LCX, "
        "20.4% in the low stratum (10 of 49 ECGs) against 10.4% in the intermediate one "
        "(5 of 48). "
    )
    # adjacent strata only: low against high is implied
    two = _summary([0.3, 0.2, 0.1], [3, 2, 1], [10, 10, 10])
    text = caveats.non_monotone_strata_sentence(two)
    assert "30.0% in the low stratum (3 of 10 ECGs) against 20.0% in the intermediate" in text
    assert "20.0% in the intermediate stratum (2 of 10 ECGs) against 10.0% in the high" in text
    assert "against 10.0% in the high one (1 of 10)." in text and text.count("against") == 2


def test_non_monotone_strata_silent_on_rising_or_tied_rates_and_empty_strata():
    rising = _summary([0.02, 0.10, 0.40], [1, 5, 20], [50, 50, 50])
    assert caveats.non_monotone_strata_sentence(rising) is None
    tied = _summary([0.10, 0.10, 0.40], [5, 5, 20], [50, 50, 50])
    assert caveats.non_monotone_strata_sentence(tied) is None
    empty_middle = _summary([0.02, np.nan, 0.40], [1, 0, 20], [50, 0, 50])
    assert caveats.non_monotone_strata_sentence(empty_middle) is None


# ---------------------------------------------------------------- decision curves
def _curve(y, p, thresholds):
    return decision_curve(np.array(y), np.array(p), np.array(thresholds)).assign(vessel="RCA")


def test_decision_curve_below_treat_all_and_treat_none_is_said():
    # a reversed model: every event scored 0.2, every non-event 0.9, prevalence 0.5. By hand,
    # NB = TP/N - FP/N * pt/(1-pt): at pt 0.1 everyone is flagged (model = treat all = 0.444);
    # at 0.3 only the non-events: model -0.5 * 3/7 = -0.214 against treat all 0.286 (gap
    # 0.5); at 0.5 treat all is 0 (not the better default) and the model -0.5; at 0.7, -7/6.
    y = [1, 0] * 10
    p = [0.2, 0.9] * 10
    curve = _curve(y, p, [0.1, 0.3, 0.5, 0.7])
    text = caveats.decision_curve_sentence(curve, "external")
    assert "the RCA's curve lies below treating all at thresholds 30% (by up to 0.5000)" in text
    assert "below treating none, a negative net benefit, at 30%-70% (down to -1.1667)" in text
    assert "(external)" in text


def test_decision_curve_of_a_perfect_model_is_silent():
    y = [1, 0] * 10
    p = [0.9, 0.05] * 10
    curve = _curve(y, p, [0.1, 0.3, 0.5, 0.7])
    assert caveats.decision_curve_sentence(curve) is None


# ---------------------------------------------------------------- NRI
def test_nri_gain_with_a_worse_rule_out_is_said():
    # the demo's numbers: NRI 0.109, NPV 0.950 -> 0.875, missed 1 -> 4
    text = caveats.nri_rule_out_sentence(0.109, 0.950, 0.875, 1, 4, "internal")
    assert "The internal NRI of 0.109 is a gain in reclassification, not in rule-out" in text
    assert "falls from 0.950 to 0.875" in text and "go from 1 to 4" in text


def test_nri_gain_with_a_better_rule_out_or_no_gain_is_silent():
    assert caveats.nri_rule_out_sentence(0.109, 0.950, 0.960, 1, 1) is None
    assert caveats.nri_rule_out_sentence(-0.05, 0.950, 0.875, 1, 4) is None
    assert caveats.nri_rule_out_sentence(np.nan, 0.950, 0.875, 1, 4) is None
    # more missed events alone is enough (the NPV can rise with a larger low category)
    assert "go from 1 to 3" in caveats.nri_rule_out_sentence(0.05, 0.95, 0.96, 1, 3)


def test_nri_of_nobody_moved_is_said_instead_of_its_zero_interval():
    y = np.array([1, 0, 0, 1, 0])
    same = np.array([0, 1, 2, 2, 0])
    result = compute_nri(y, same, same)
    assert result.nri == 0
    text = caveats.nri_unmoved_sentence(**caveats.moved_counts(result), where="external")
    assert text.startswith("The AI stratum moved none of the 5 external examinations out of")
    moved = compute_nri(y, same, np.array([1, 1, 2, 2, 0]))
    assert caveats.nri_unmoved_sentence(**caveats.moved_counts(moved)) is None


def test_join_sentences_never_empty():
    assert caveats.join_sentences([None, None]) == caveats.NOTHING_TO_FLAG
    assert caveats.join_sentences(["A.", None, "B."]) == "A. B."
