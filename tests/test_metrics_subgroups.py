"""Tests for ecglib.metrics.subgroups and ecglib.metrics.severity, and smoke tests of the
evaluation figures (ecglib.plots.roc, .subgroups, .severity)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402

from ecglib.metrics._inputs import MissingInputError
from ecglib.metrics.roc import compare_independent_aucs, delong_auc
from ecglib.metrics.severity import grade_summary, severity_trend
from ecglib.metrics.subgroups import COLUMNS, define_subgroups, subgroup_auc_table
from ecglib.plots.roc import format_auc_ci, format_p, roc_figure
from ecglib.plots.severity import severity_boxplot_figure
from ecglib.plots.subgroups import subgroup_forest_figure
from ecglib.schema import VESSELS, grade_col, label_col, prob_col


def cohort(n=600, seed=0) -> pd.DataFrame:
    """Predictions joined to cohort columns, with grades that drive the probabilities."""
    rng = np.random.default_rng(seed)
    table = {}
    for v, prev in zip(VESSELS, (0.15, 0.03, 0.25, 0.15)):
        grade = rng.choice(5, n, p=[0.45, 0.25, 0.3 - prev, prev * 0.7, prev * 0.3])
        table[grade_col(v)] = grade
        table[label_col(v)] = (grade >= 3).astype(int)
        table[prob_col(v)] = 1 / (1 + np.exp(-(0.6 * grade + rng.normal(size=n) - 2.5)))
    df = pd.DataFrame(table, index=pd.RangeIndex(n)[::-1] + 1000)      # not a 0..n-1 index
    df["age"] = rng.normal(63, 10, n).round()
    df["sex"] = rng.choice(["male", "female"], n)
    df["ecg_ccta_hours"] = np.where(rng.random(n) < 0.2, np.nan, rng.exponential(10, n))
    return df


# ------------------------------------------------------------------------------------------
# define_subgroups
# ------------------------------------------------------------------------------------------
def test_define_subgroups_cut_points_and_unknown_interval():
    df = pd.DataFrame({"age": [64.9, 65, 80, np.nan], "sex": ["male", "female", None, "male"],
                       "ecg_ccta_hours": [3.0, 3.01, np.nan, 0.5]}, index=[5, 6, 7, 8])
    sg = define_subgroups(df)
    assert list(sg["age"].astype(object)) == ["< 65", "≥ 65", "≥ 65", np.nan]
    assert list(sg["sex"].astype(object)) == ["male", "female", np.nan, "male"]
    assert list(sg["interval"].astype(object)) == ["≤ 3 h", "> 3 h", np.nan, "≤ 3 h"]
    assert list(sg["age"].cat.categories) == ["< 65", "≥ 65"]           # reference first
    assert sg.index.equals(df.index)


def test_define_subgroups_without_intervals_leaves_the_variable_out():
    df = pd.DataFrame({"age": [50, 70], "sex": ["male", "female"], "ecg_ccta_hours": np.nan})
    with pytest.warns(UserWarning, match="interval subgroups are left out"):
        sg = define_subgroups(df)
    assert list(sg.columns) == ["age", "sex"]


def test_define_subgroups_rejects_missing_columns_and_raw_sex_labels():
    with pytest.raises(MissingInputError, match="no age column"):
        define_subgroups(pd.DataFrame({"sex": ["male"]}))
    with pytest.raises(ValueError, match="not canonical"):
        define_subgroups(pd.DataFrame({"age": [50], "sex": ["M"], "ecg_ccta_hours": [1.0]}))


# ------------------------------------------------------------------------------------------
# subgroup_auc_table
# ------------------------------------------------------------------------------------------
def test_subgroup_table_matches_direct_computation_and_unpaired_test():
    df = cohort()
    sg = define_subgroups(df)
    table = subgroup_auc_table(df, sg)
    assert list(table.columns) == list(COLUMNS)
    assert set(table["variable"]) == {"age", "sex", "interval"}
    assert len(table) == 3 * 2 * len(VESSELS)
    for variable in ("age", "sex", "interval"):
        levels = list(sg[variable].cat.categories)
        for v in VESSELS:
            rows = table[(table["variable"] == variable) & (table["vessel"] == v)]
            assert list(rows["subgroup"]) == levels
            ref, other = rows.iloc[0], rows.iloc[1]
            for row, level in ((ref, levels[0]), (other, levels[1])):
                mask = (sg[variable] == level).to_numpy()
                direct = delong_auc(df.loc[mask, label_col(v)], df.loc[mask, prob_col(v)])
                assert row["auc"] == pytest.approx(direct.auc, abs=1e-14)
                assert row["ci_low"] == pytest.approx(direct.ci_low, abs=1e-14)
                assert row["n"] == mask.sum()
                assert row["reference"] == levels[0] and row["reason"] == ""
            assert np.isnan(ref["p_value"])
            test = compare_independent_aucs(other["auc"], other["se"] ** 2, ref["auc"],
                                            ref["se"] ** 2)
            assert other["p_value"] == pytest.approx(test.p_value)
            assert other["auc_diff"] == pytest.approx(other["auc"] - ref["auc"])
    # the interval variable only counts rows with a known interval
    known = df["ecg_ccta_hours"].notna().sum()
    interval = table[(table["variable"] == "interval") & (table["vessel"] == "RCA")]
    assert interval["n"].sum() == known < len(df)


def test_one_class_subgroup_gives_nan_with_reason_not_an_error():
    df = cohort()
    group = pd.Series(np.where(np.arange(len(df)) < 40, "small", "large"), index=df.index,
                      name="site")
    small = group == "small"
    df.loc[small, label_col("LM")] = 0                      # no LM positives in "small"
    df.loc[small, label_col("LCX")] = 0
    df.loc[df.index[small.to_numpy()][0], label_col("LCX")] = 1          # a single positive
    table = subgroup_auc_table(df, group)
    lm = table[(table["vessel"] == "LM") & (table["subgroup"] == "small")].iloc[0]
    assert np.isnan(lm["auc"]) and lm["reason"] == "one class: no positives among 40"
    lcx = table[(table["vessel"] == "LCX") & (table["subgroup"] == "small")].iloc[0]
    assert np.isfinite(lcx["auc"]) and np.isnan(lcx["ci_low"])
    assert "single positive" in lcx["reason"]
    # the comparison of a NaN subgroup is NaN too, and nothing raised
    assert table.loc[(table["vessel"] == "LM"), "p_value"].isna().all()
    assert table.loc[(table["vessel"] == "RCA"), "p_value"].notna().sum() == 1


def test_empty_category_is_reported_and_bad_labels_name_the_vessel():
    df = cohort()
    df["sex"] = "male"
    table = subgroup_auc_table(df, define_subgroups(df)[["sex"]], vessels=["RCA"])
    female = table[table["subgroup"] == "female"].iloc[0]
    assert female["n"] == 0 and female["reason"] == "no predictions in this subgroup"
    assert np.isnan(female["p_value"])
    df[label_col("LAD")] = df[label_col("LAD")].astype(float)
    df.iloc[3, df.columns.get_loc(label_col("LAD"))] = np.nan
    with pytest.raises(ValueError, match="y of LAD must be 0/1"):
        subgroup_auc_table(df, define_subgroups(df))


def test_subgroup_column_by_name_and_misaligned_index():
    df = cohort()
    df["grp"] = np.where(df["age"] >= 65, "old", "young")
    by_name = subgroup_auc_table(df, "grp", vessels=["RCA"])
    assert list(by_name["subgroup"]) == ["old", "young"]                 # sorted levels
    with pytest.raises(ValueError, match="indexed like the predictions"):
        subgroup_auc_table(df, pd.Series(["a"] * 10, name="x"))


# ------------------------------------------------------------------------------------------
# severity
# ------------------------------------------------------------------------------------------
def test_severity_trend_is_scipy_spearman():
    df = cohort()
    trend = severity_trend(df)
    for _, row in trend.iterrows():
        ref = stats.spearmanr(df[prob_col(row["vessel"])], df[grade_col(row["vessel"])])
        assert row["rho"] == pytest.approx(ref.statistic)
        assert row["p_value"] == pytest.approx(ref.pvalue)
        assert row["rho"] > 0.2 and row["n"] == len(df)


def test_severity_single_grade_gives_nan_and_bad_grades_raise():
    df = cohort()
    df[grade_col("LM")] = 0
    trend = severity_trend(df).set_index("vessel")
    assert np.isnan(trend.loc["LM", "rho"]) and trend.loc["LM", "grades_present"] == 1
    df[grade_col("LM")] = 5
    with pytest.raises(ValueError, match=f"LM: row {df.index[0]} has grade 5 "):
        severity_trend(df)


def test_grade_summary_medians_and_iqr():
    df = cohort()
    summary = grade_summary(df)
    assert len(summary) == len(VESSELS) * 5
    row = summary[(summary["vessel"] == "RCA") & (summary["grade"] == 2)].iloc[0]
    x = df.loc[df[grade_col("RCA")] == 2, prob_col("RCA")]
    assert row["n"] == len(x) and row["median"] == pytest.approx(x.median())
    assert (row["q1"], row["q3"]) == pytest.approx(tuple(np.percentile(x, [25, 75])))
    assert row["grade_name"] == "moderate"


# ------------------------------------------------------------------------------------------
# figures (smoke: they draw and return a Figure; the numbers are tested above)
# ------------------------------------------------------------------------------------------
def test_roc_figures_draw_with_a_second_set_and_a_one_class_vessel():
    internal, external = cohort(seed=1), cohort(n=120, seed=2)
    external[label_col("LM")] = 0                       # no LM positives externally
    for layout in ("panels", "single"):
        fig = roc_figure({"internal": internal, "external": external}, layout=layout)
        assert isinstance(fig, Figure)
        texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
        assert any("no AUC (0/120 positive)" in t for t in texts)
        assert any(t.startswith("internal: 0.") or t.startswith("RCA, internal: 0.")
                   for t in texts)
        plt.close(fig)
    fig = roc_figure(internal, label="pooled OOF")
    assert len(fig.axes) == len(VESSELS)
    plt.close(fig)


def test_forest_and_box_plots_draw():
    df = cohort()
    table = subgroup_auc_table(df, define_subgroups(df))
    fig = subgroup_forest_figure(table)
    assert isinstance(fig, Figure) and len(fig.axes) == len(VESSELS)
    plt.close(fig)
    fig = severity_boxplot_figure(df)
    assert isinstance(fig, Figure)
    assert any("Spearman" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_formatters():
    assert format_auc_ci(0.7941, 0.7712, 0.8163) == "0.794 [0.771-0.816]"
    assert format_auc_ci(0.8, np.nan, np.nan) == "0.800 [CI n/a]"
    assert format_p(0.0004) == "p < 0.001" and format_p(0.0432) == "p = 0.043"
    assert format_p(0.43) == "p = 0.43" and format_p(np.nan) == "p = n/a"
