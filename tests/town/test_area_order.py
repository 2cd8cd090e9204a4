"""Town areas in the order a resident reads them in the evacuation and on-demand forms."""

from __future__ import annotations

from cityos.town.area_order import area_key, kanji_number
from cityos.town.places import town_areas


def test_chome_numbers_in_counting_order() -> None:
    names = ["ときわ台三丁目", "ときわ台一丁目", "ときわ台十二丁目", "余野", "ときわ台二丁目",
             "ときわ台四丁目"]
    assert sorted(names, key=area_key) == ["ときわ台一丁目", "ときわ台二丁目", "ときわ台三丁目",
                                          "ときわ台四丁目", "ときわ台十二丁目", "余野"]
    assert [kanji_number(t) for t in ("一", "九", "十", "十二", "二十三")] == [1, 9, 10, 12, 23]


def test_toyonos_areas_list_each_neighbourhood_from_its_first_chome() -> None:
    names = sorted((str(a["name"]["value"]) for a in town_areas()), key=area_key)
    tokiwadai = [n for n in names if n.startswith("ときわ台")]
    assert tokiwadai == [f"ときわ台{k}丁目" for k in "一二三四五六"]
    higashi = [n for n in names if n.startswith("東ときわ台")]
    assert higashi == [f"東ときわ台{k}丁目" for k in "一二三四五六七八九"]
