"""The 特定健診 (specific health checkup) items cityos reads, with their plain-language names and
the reference values of MHLW's 標準的な健診・保健指導プログラム (令和6年度版).

`guidance` is the 保健指導判定値 (a value from which lifestyle advice is given) and `referral`
the 受診勧奨判定値 (from which a clinic visit is advised); `below` marks items where a LOW
value is the worry (HDL cholesterol, eGFR). Where the programme sets a value for one sex only
(waist) the pair is (men, women).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One checkup item: CSV column, entity attribute, names, unit and reference values."""

    key: str  # CSV column and entity attribute name
    ja: str
    en: str
    unit: str
    guidance: float | None = None  # 保健指導判定値
    referral: float | None = None  # 受診勧奨判定値
    below: bool = False  # True: values BELOW the thresholds are the concern
    plain_ja: str = ""  # what it tells a resident, in one plain sentence
    plain_en: str = ""

    def level(self, value: float, sex: str = "") -> int:
        """0 within the reference range, 1 at/over the guidance value, 2 at/over referral."""
        guidance, referral = self.guidance, self.referral
        if self.key == "waist":  # 85 cm for men, 90 cm for women
            guidance = 90.0 if sex == "F" else 85.0
        if self.below:
            if referral is not None and value < referral:
                return 2
            return 1 if guidance is not None and value < guidance else 0
        if referral is not None and value >= referral:
            return 2
        return 1 if guidance is not None and value >= guidance else 0

    def range_ja(self, sex: str = "") -> str:
        """The reference range in words: 「25未満」, 「40以上」."""
        guidance = (90.0 if sex == "F" else 85.0) if self.key == "waist" else self.guidance
        if guidance is None:
            return ""
        return f"{_num(guidance)}{self.unit}{'以上' if self.below else '未満'}"

    def range_en(self, sex: str = "") -> str:
        guidance = (90.0 if sex == "F" else 85.0) if self.key == "waist" else self.guidance
        if guidance is None:
            return ""
        return f"{'at least' if self.below else 'below'} {_num(guidance)} {self.unit}".strip()


def _num(value: float) -> str:
    return f"{value:g}"


# Numeric items, in the order of the MHLW checkup form.
MEASURES: tuple[Item, ...] = (
    Item("bmi", "BMI（体格指数）", "BMI", "", 25.0, None, False,
         "体重と身長のバランスです。", "weight for height."),
    Item("waist", "腹囲", "waist", "cm", 85.0, None, False,
         "おなかまわりの長さで、内臓脂肪の目安です。", "a sign of visceral fat."),
    Item("sbp", "血圧（上）", "systolic blood pressure", "mmHg", 130.0, 140.0, False,
         "心臓が縮むときの血圧です。", "pressure when the heart beats."),
    Item("dbp", "血圧（下）", "diastolic blood pressure", "mmHg", 85.0, 90.0, False,
         "心臓がゆるむときの血圧です。", "pressure between beats."),
    Item("fpg", "空腹時血糖", "fasting glucose", "mg/dL", 100.0, 126.0, False,
         "食事前の血液中の糖の量です。", "sugar in the blood before a meal."),
    Item("hba1c", "HbA1c", "HbA1c", "%", 5.6, 6.5, False,
         "過去1〜2か月の血糖の平均の目安です。", "average blood sugar over 1–2 months."),
    Item("tg", "中性脂肪", "triglycerides", "mg/dL", 150.0, 300.0, False,
         "血液中の脂肪の一種です。", "a kind of fat in the blood."),
    Item("hdl", "HDLコレステロール", "HDL cholesterol", "mg/dL", 40.0, None, True,
         "いわゆる善玉コレステロールで、低いと注意です。", "'good' cholesterol; low is a worry."),
    Item("ldl", "LDLコレステロール", "LDL cholesterol", "mg/dL", 120.0, 140.0, False,
         "いわゆる悪玉コレステロールです。", "'bad' cholesterol."),
    Item("ast", "AST（GOT）", "AST (GOT)", "U/L", 31.0, 51.0, False,
         "肝臓などの働きの目安です。", "a sign of liver health."),
    Item("alt", "ALT（GPT）", "ALT (GPT)", "U/L", 31.0, 51.0, False,
         "肝臓の働きの目安です。", "a sign of liver health."),
    Item("ggt", "γ-GTP", "γ-GTP", "U/L", 51.0, 101.0, False,
         "お酒や肝臓の負担の目安です。", "a sign of alcohol and liver strain."),
    Item("egfr", "eGFR（腎臓の働き）", "eGFR (kidney function)", "mL/分/1.73㎡", 60.0, 45.0,
         True, "腎臓がどれだけ血液をきれいにできるかの目安で、低いと注意です。",
         "how well the kidneys clean the blood; low is a worry."),
)

BY_KEY: dict[str, Item] = {item.key: item for item in MEASURES}

# 尿蛋白 as the form records it; 0: −, 1: ±, 2: +, 3: 2+, 4: 3+ (± is guidance, + referral).
URINE_PROTEIN = {"-": 0, "−": 0, "±": 1, "+": 2, "1+": 2, "2+": 3, "3+": 4}

# The questionnaire (質問票) answers cityos keeps, as booleans or small integers.
QUESTIONS: dict[str, tuple[str, str]] = {
    "smoking": ("たばこを習慣的に吸っている", "smokes habitually"),
    "drinking": ("お酒を飲む頻度（0 ほとんど飲まない・1 時々・2 毎日）",
                 "drinking frequency (0 rarely, 1 sometimes, 2 every day)"),
    "exercise": ("1回30分以上の軽く汗をかく運動を週2日以上、1年以上している",
                 "exercises 30+ minutes twice a week for a year or more"),
    "walking": ("歩行または同等の身体活動を1日1時間以上している",
                "walks or is as active for an hour or more a day"),
}

# Plain names for every feature a risk model may use (the measures, the questions, age, sex).
FEATURE_NAMES: dict[str, tuple[str, str]] = {
    **{item.key: (item.ja, item.en) for item in MEASURES},
    "urine_protein": ("尿たんぱく", "urine protein"),
    "age": ("年齢", "age"),
    "sex": ("性別", "sex"),
    "smoking": ("喫煙", "smoking"),
    "drinking": ("飲酒", "drinking"),
    "exercise": ("運動の習慣", "exercise habit"),
    "walking": ("歩く習慣", "walking habit"),
    # the public acceptance data's columns (scikit-learn's diabetes data)
    "bp": ("平均血圧", "mean blood pressure"),
    "tc": ("総コレステロール", "total cholesterol"),
    "tc_hdl": ("総コレステロールとHDLの比", "total/HDL cholesterol"),
    "ltg": ("中性脂肪（対数）", "triglycerides (log)"),
    "glucose": ("血糖", "blood sugar"),
}


def feature_name(key: str, lang: str = "ja") -> str:
    """The plain name of a model feature; unknown columns keep their own name."""
    ja, en = FEATURE_NAMES.get(key, (key, key))
    return ja if lang == "ja" else en
