"""The public clinical data the risk model is accepted on: the diabetes data bundled with
scikit-learn (Efron, Hastie, Johnstone, Tibshirani 2004; 442 patients), read offline.

Its target is a quantitative measure of disease progression one year after baseline; cityos
binarises it as `high_progression` = progression above 184, the data set's upper tertile
(147 of 442 patients), so that it is a 0/1 outcome like onset within three years.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

THRESHOLD = 184.0  # the 2/3 quantile of the 442 progression values
TARGET = "high_progression"
# The data set's columns under the names cityos's checkup items use where one matches.
COLUMNS = {"age": "age", "sex": "sex", "bmi": "bmi", "bp": "bp", "s1": "tc", "s2": "ldl",
           "s3": "hdl", "s4": "tc_hdl", "s5": "ltg", "s6": "glucose"}


def diabetes_frame() -> pd.DataFrame:
    """The 442 patients with unscaled features (sex 1/2) and the 0/1 target."""
    frame = load_diabetes(scaled=False, as_frame=True).frame.rename(columns=COLUMNS)
    frame[TARGET] = (frame.pop("target") > THRESHOLD).astype(int)
    return frame


def write_split(out: Path, seed: int = 0) -> tuple[Path, Path]:
    """train.csv (70%) and test.csv (30%), stratified by the target."""
    train, test = train_test_split(diabetes_frame(), test_size=0.3, random_state=seed,
                                   stratify=diabetes_frame()[TARGET])
    paths = out / "train.csv", out / "test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths
