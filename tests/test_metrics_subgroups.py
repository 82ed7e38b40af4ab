"""ecglib.metrics.subgroups (subgroup AUCs and the unpaired DeLong test), the forest plot of
ecglib.plots.subgroups and the ROC figure of ecglib.plots.roc: what they compute and draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ecglib.metrics._inputs import MissingInputError  # noqa: E402
from ecglib.metrics.roc import compare_independent_aucs, delong_auc, vessel_auc_table  # noqa: E402
from ecglib.metrics.subgroups import COLUMNS, VARIABLE_LABELS, define_subgroups, subgroup_auc_table  # noqa: E402
from ecglib.plots.roc import roc_figure  # noqa: E402
from ecglib.plots.subgroups import subgroup_forest_figure  # noqa: E402
from ecglib.report.present import format_estimate, format_p  # noqa: E402
from ecglib.schema import VESSELS, grade_col, label_col, prob_col  # noqa: E402


def cohort(n=600, seed=0) -> pd.DataFrame:
    """Predictions joined to cohort columns, with grades that drive the probabilities."""
    rng = np.random.default_rng(seed)
    table = {}
    for v, prev in zip(VESSELS, (0.15, 0.03, 0.25, 0.15)):
        grade = rng.choice(5, n, p=[0.45, 0.25, 0.3 - prev, prev * 0.7, prev * 0.3])
        table[grade_col(v)] = grade
        table[label_col(v)] = (grade >= 3).astype(int)
        table[prob_col(v)] = 1 / (1 + np.exp(-(0.6 * grade + rng.normal(size=n) - 2.5)))
    df = pd.DataFrame(table, index=pd.RangeIndex(n)[::-1] + 1000)  # not a 0..n-1 index
    df["age"] = rng.normal(63, 10, n).round()
    df["sex"] = rng.choice(["male", "female"], n)
    df["ecg_ccta_hours"] = np.where(rng.random(n) < 0.2, np.nan, rng.exponential(10, n))
    return df


# ------------------------------------------------------------------------------------------
# define_subgroups
# ------------------------------------------------------------------------------------------
def test_define_subgroups_cut_points_and_unknown_interval():
    df = pd.DataFrame(
        {
            "age": [64.9, 65, 80, np.nan],
            "sex": ["male", "female", None, "male"],
            "ecg_ccta_hours": [3.0, 3.01, np.nan, 0.5],
        },
        index=[5, 6, 7, 8],
    )
    sg = define_subgroups(df)
    assert list(sg["age"].astype(object)) == ["< 65", "≥ 65", "≥ 65", np.nan]
    assert list(sg["sex"].astype(object)) == ["male", "female", np.nan, "male"]
    assert list(sg["interval"].astype(object)) == ["≤ 3 h", "> 3 h", np.nan, "≤ 3 h"]
    assert list(sg["age"].cat.categories) == ["< 65", "≥ 65"]  # reference first
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
            test = compare_independent_aucs(
                other["auc"], other["se"] ** 2, ref["auc"], ref["se"] ** 2
            )
            assert other["p_value"] == pytest.approx(test.p_value)
            assert other["auc_diff"] == pytest.approx(other["auc"] - ref["auc"])
    # the interval variable only counts rows with a known interval
    known = df["ecg_ccta_hours"].notna().sum()
    interval = table[(table["variable"] == "interval") & (table["vessel"] == "RCA")]
    assert interval["n"].sum() == known < len(df)


def test_one_class_subgroup_gives_nan_with_reason_not_an_error():
    df = cohort()
    group = pd.Series(
        np.where(np.arange(len(df)) < 40, "small", "large"), index=df.index, name="site"
    )
    small = group == "small"
    df.loc[small, label_col("LM")] = 0  # no LM positives in "small"
    df.loc[small, label_col("LCX")] = 0
    df.loc[df.index[small.to_numpy()][0], label_col("LCX")] = 1  # a single positive
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
    assert list(by_name["subgroup"]) == ["old", "young"]  # sorted levels
    with pytest.raises(ValueError, match="indexed like the predictions"):
        subgroup_auc_table(df, pd.Series(["a"] * 10, name="x"))


def test_subgroup_rows_are_the_one_auc_table_of_each_subgroup():
    """Every subgroup's AUC columns are vessel_auc_table of its rows (one-class policy nan),
    including the reason of a zero DeLong variance."""
    df = cohort()
    df["grp"] = np.where(np.arange(len(df)) < 60, "a", "b")
    a = df["grp"] == "a"
    df.loc[a, prob_col("LAD")] = df.loc[a, label_col("LAD")] * 0.5 + 0.25  # complete separation
    table = subgroup_auc_table(df, "grp")
    for level in ("a", "b"):
        want = vessel_auc_table(df[df["grp"] == level], one_class="nan")
        got = table[table["subgroup"] == level].reset_index(drop=True)
        cols = ["vessel", "n", "positives", "auc", "se", "ci_low", "ci_high", "reason"]
        pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=False, rtol=0, atol=1e-14)
    lad = table[(table["subgroup"] == "a") & (table["vessel"] == "LAD")].iloc[0]
    assert lad["auc"] == 1.0 and lad["reason"].startswith("DeLong variance 0")


# ------------------------------------------------------------------------------------------
# figures: what they show
# ------------------------------------------------------------------------------------------
def test_roc_figures_draw_with_a_second_set_and_a_one_class_vessel():
    internal, external = cohort(seed=1), cohort(n=120, seed=2)
    external[label_col("LM")] = 0  # no LM positives externally
    for layout in ("panels", "single"):
        fig = roc_figure({"internal": internal, "external": external}, layout=layout)
        assert isinstance(fig, Figure)
        assert len(fig.axes) == (len(VESSELS) if layout == "panels" else 1)
        texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
        assert any("no AUC (0/120 positive)" in t for t in texts)
        assert any(t.startswith("internal: 0.") or t.startswith("RCA, internal: 0.") for t in texts)
        plt.close(fig)
    fig = roc_figure(internal, label="pooled OOF")
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    rca = delong_auc(internal[label_col("RCA")], internal[prob_col("RCA")])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(format_estimate(rca.auc, digits=3) in t for t in legend)
    plt.close(fig)


def test_roc_figure_legends_show_the_given_aucs_and_intervals():
    internal = cohort(seed=1)
    given = vessel_auc_table(internal).assign(set="internal", ci_low=0.101, ci_high=0.909)
    fig = roc_figure({"internal": internal}, aucs=given, interval="patient-clustered")
    for ax, row in zip(fig.axes, given.itertuples()):
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == [
            f"internal: {format_estimate(row.auc, 0.101, 0.909)}"
        ]
        assert legend.get_title().get_text() == "AUC [95% CI, patient-clustered]"
    plt.close(fig)
    with pytest.raises(KeyError, match="no set 'external'"):
        roc_figure({"external": internal}, aucs=given)
    with pytest.raises(KeyError, match=r"no row for \['LCX'\]"):
        roc_figure({"internal": internal}, aucs=given[given["vessel"] != "LCX"])


def test_forest_plot_shows_each_subgroups_auc_ci_and_p():
    df = cohort()
    sg = define_subgroups(df)
    table = subgroup_auc_table(df, sg)
    fig = subgroup_forest_figure(table)
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    assert all(ax.get_xlabel() == "AUC" for ax in fig.axes)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    n_young, n_old = int((sg["age"] == "< 65").sum()), int((sg["age"] == "≥ 65").sum())
    assert labels[:3] == [
        VARIABLE_LABELS["age"],
        f"   < 65  (n = {n_young:,})",
        f"   ≥ 65  (n = {n_old:,})",
    ]
    for ax, vessel in zip(fig.axes, VESSELS):
        rows = table[table["vessel"] == vessel]
        # one square marker per subgroup, at its AUC, and one CI line per subgroup
        squares = [line for line in ax.lines if line.get_marker() == "s"]
        assert [float(line.get_xdata()[0]) for line in squares] == pytest.approx(
            rows["auc"].tolist()
        )
        ci = [
            float(x)
            for line in ax.lines
            if len(line.get_xdata()) == 2 and line.get_linestyle() == "-"
            for x in line.get_xdata()
        ]
        assert ci == pytest.approx(rows[["ci_low", "ci_high"]].to_numpy().ravel().tolist())
        # the variable's header carries the p-value of the difference test
        texts = {t.get_text() for t in ax.texts}
        for p in rows["p_value"].dropna():
            assert format_p(p, prefix="p") in texts
    plt.close(fig)


def test_forest_plot_marks_a_subgroup_without_an_auc():
    df = cohort()
    group = pd.Series(
        np.where(np.arange(len(df)) < 40, "small", "large"), index=df.index, name="site"
    )
    df.loc[(group == "small").to_numpy(), label_col("LM")] = 0
    table = subgroup_auc_table(df, group, vessels=["LM"])
    fig = subgroup_forest_figure(table)
    ax = fig.axes[0]
    assert "n/a" in {t.get_text() for t in ax.texts}
    assert len([line for line in ax.lines if line.get_marker() == "s"]) == 1  # "large" only
    assert "p = n/a" not in {t.get_text() for t in ax.texts}  # no test, no p
    plt.close(fig)


def test_the_books_formatters():
    assert format_estimate(0.7941, 0.7712, 0.8163) == "0.794 [0.771-0.816]"
    assert format_estimate(0.8, np.nan, np.nan) == "0.800"
    assert format_estimate(0.8, 0.7, np.nan) == "0.800 [CI n/a]"
    assert format_p(0.0004, prefix="p") == "p < 0.001"
    assert format_p(0.0432, prefix="p") == "p = 0.043"
    assert format_p(0.43, prefix="p") == "p = 0.43" and format_p(np.nan, prefix="p") == "p = n/a"
    assert format_p(0.0432) == "0.043" and format_p(0.43) == "0.43"
