"""Recall and precision of screening on a labelled set (run with -s to see the rates).

The list is tests/data/csl/consolidated.csv. POSITIVES are perturbed forms of
listed names (typos, reordered tokens, dropped or changed legal forms, dropped
generic words or parenthesised qualifiers, acronyms, other scripts and
transliteration variants) that must find their entry at or above
the default threshold. NEGATIVES are look-alike parties that are not listed:
they share a legal form, generic words, a place or one distinctive token with
a listed name, or differ from it in a distinctive token, and must match
nothing. Names that a screener would rightly put in front of a reviewer (the
same distinctive tokens with another generic word, "Arctic" for "Arktika")
are not negatives.

Recall = positives that found their entry / positives. Precision = correct
matches / all matches reported at or above the threshold, over both sets.
"""

from __future__ import annotations

from pathlib import Path

from provenance.screening import ScreeningIndex, read_list

CSL = Path(__file__).resolve().parents[1] / "data" / "csl" / "consolidated.csv"

ZHENHUA = "Zhenhua Qixing Microelectronics Co., Ltd."
VOLGATEK = "Volgatek Scientific Research Institute"
TARSUN = "Tarsun Computing Technologies (Hong Kong) Limited"
MERIDIAN = "Meridian Orbital Trading FZE"
SINOKOR = "Sinokor Velocity Electronics Limited"
BRIGHTWATER = "Brightwater Avionics Export LLC"
WHITCOMBE = "Harlan D. Whitcombe"
KESTREL = (
    "Kestrel Dynamics Import and Export Company; and any successor, sub-unit, or subsidiary thereof"
)
NORDVIK = "NORDVIK PETROLEUM TRADE LIMITED"
HANSHAN = "Hanshan Avionics Group Co., Ltd."
PAMIR = "Pamir Lightwave Supply"
IRRAWADDY = "Irrawaddy Steelhawk Defence Works"
ORLOVSKY = "Orlovsky Kapital Bank"
PALMEIRAS = "Rodrigo Esteban Palmeiras"
ARKTIKA = "Arktika Photonics LLC"
VORONTSOVA = "VORONTSOVA, Yelena Arkadyevna"
PAK = "PAK, Chol Su"
KARAVELIOGLU = "Selin KARAVELIOGLU"
SHAHRIVARI = "SHAHRIVARI, Dariush"
AFPA = "Aerospace Falcon Propulsion Academy (AFPA)"
UOMZ = "Uralskiy Optiko-Mekhanicheskiy Zavod Granit"
BAHR = "Bahr Al-Noor Shipping Company"
CHOSUN = "Chosun Kwangmyong Trading Corporation"
ROSTAMINEJAD = "Kamran Rostaminejad"

# (kind, party name, party country, listed name it must find)
POSITIVES: list[tuple[str, str, str | None, str]] = [
    ("typo", "Zhenhua Qixng Microelectronics Co Ltd", None, ZHENHUA),
    ("typo", "Zhenhau Qixing Microelectronics", "CN", ZHENHUA),
    ("typo", "Zhenhua Qixing Microelectronic Company Limited", None, ZHENHUA),
    ("typo", "Volgatek Scientific Reserch Institute", None, VOLGATEK),
    ("typo", "Volgatec Research Institute", "RU", VOLGATEK),
    ("typo", "Tarsun Computng Technologies HK Ltd", None, TARSUN),
    ("typo", "Meridian Orbitl Trading", "AE", MERIDIAN),
    ("typo", "Sinokor Velocty Electronics Ltd", None, SINOKOR),
    ("typo", "Brightwater Avoinics Export", "US", BRIGHTWATER),
    ("typo", "Harlan Whitcomb", None, WHITCOMBE),
    ("typo", "Kestrel Dinamics Import Export Co", None, KESTREL),
    ("typo", "Nordvick Petroleum Trade", "CY", NORDVIK),
    ("typo", "Hanshan Avionic Group", None, HANSHAN),
    ("typo", "Pamir Lightwave Suply", "KG", PAMIR),
    ("typo", "Irrawady Steelhawk Defense Works", None, IRRAWADDY),
    ("typo", "Orlovsky Capital Bank", None, ORLOVSKY),
    ("typo", "Rodrigo Estevan Palmeiras", None, PALMEIRAS),
    ("typo", "Arktika Photonix", None, ARKTIKA),
    ("reordered", "Qixing Zhenhua Microelectronics", None, ZHENHUA),
    ("reordered", "Whitcombe, Harlan D.", None, WHITCOMBE),
    ("reordered", "Yelena Arkadyevna Vorontsova", "RU", VORONTSOVA),
    ("reordered", "Chol Su Pak", None, PAK),
    ("reordered", "Karavelioglu Selin", "TR", KARAVELIOGLU),
    ("reordered", "Dariush Shahrivari", None, SHAHRIVARI),
    ("reordered", "Palmeiras, Rodrigo Esteban", None, PALMEIRAS),
    ("reordered", "Steelhawk Irrawaddy Defence Works", "MM", IRRAWADDY),
    ("legal form", "Zhenhua Qixing Microelectronics", "CN", ZHENHUA),
    ("legal form", "TARSUN COMPUTING TECHNOLOGIES (HONG KONG)", "HK", TARSUN),
    ("legal form", "Arktika Photonics GmbH", None, ARKTIKA),
    ("legal form", "Meridian Orbital Trading L.L.C.", None, MERIDIAN),
    ("legal form", "Sinokor Velocity Electronics Co., Ltd.", "HK", SINOKOR),
    ("legal form", "Brightwater Avionics Export", None, BRIGHTWATER),
    ("legal form", "Hanshan Avionics", "CN", HANSHAN),
    ("legal form", "Bahr Al Noor Shipping", None, BAHR),
    ("legal form", "Chosun Kwangmyong Trading", None, CHOSUN),
    ("legal form", "Kestrel Dynamics Import & Export Co.", None, KESTREL),
    ("legal form", "Nordvik Petroleum Trade Ltd.", None, NORDVIK),
    ("qualifier", "Aerospace Falcon Propulsion Academy", None, AFPA),
    ("qualifier", "Volgatek", "RU", VOLGATEK),
    ("qualifier", "AFPA", None, AFPA),
    ("qualifier", "Tarsun Computing Technologies Hong Kong Limited", None, TARSUN),
    ("qualifier", "Tarsun Computing Technologies Limited", "HK", TARSUN),
    ("reordered", "Whitcombe, Harlan", "US", WHITCOMBE),
    ("transliteration", "Elena Arkadievna Vorontsova", None, VORONTSOVA),
    ("transliteration", "Jelena Vorontsova", "RU", VORONTSOVA),
    ("transliteration", "Воронцова Елена Аркадьевна", None, VORONTSOVA),
    ("transliteration", "Uralsky Optiko-Mekhanichesky Zavod Granit", None, UOMZ),
    ("transliteration", "Uralskii optiko mekhanicheskii zavod", "RU", UOMZ),
    ("transliteration", "Уральский оптико-механический завод", None, UOMZ),
    ("transliteration", "Nauchno-Issledovatelskiy Institut Volgatek", None, VOLGATEK),
    ("transliteration", "ООО Арктика Фотоникс", "RU", ARKTIKA),
    ("transliteration", "OOO Arktika Fotoniks", None, ARKTIKA),
    (
        "transliteration",
        "Obshchestvo s Ogranichennoy Otvetstvennostyu Arktika Fotoniks",
        None,
        ARKTIKA,
    ),
    ("transliteration", "振华启星微电子有限公司", None, ZHENHUA),
    ("transliteration", "Zhenhua Qixing Weidianzi Youxian Gongsi", None, ZHENHUA),
    ("transliteration", "汉山航电集团", None, HANSHAN),
    ("transliteration", "Hanshan Hangdian Jituan", None, HANSHAN),
    ("transliteration", "Bahr al-Nur Shipping Co", "SY", BAHR),
    ("transliteration", "بحر النور للشحن", None, BAHR),
    ("transliteration", "Pak Chol-su", "KP", PAK),
    ("transliteration", "박철수", None, PAK),
    ("transliteration", "Dariush Shahriwari", "IR", SHAHRIVARI),
    ("transliteration", "Kamran Rostami-Nejad", None, ROSTAMINEJAD),
    ("transliteration", "Selin Karavelioğlu", None, KARAVELIOGLU),
    ("transliteration", "Rodrigo Estéban Palmeirás", None, PALMEIRAS),
    ("transliteration", "Korea Kwangmyong Trading Corp", "KP", CHOSUN),
]

# (party name, party country): look-alikes that are not listed
NEGATIVES: list[tuple[str, str | None]] = [
    ("Zhenhua Harbour Cranes Co., Ltd.", "CN"),
    ("Qixing Pharmaceutical Co., Ltd.", "CN"),
    ("Shenzhen Qianhai Microelectronics Co., Ltd.", "CN"),
    ("Volga Research Institute", "RU"),
    ("Volgograd Scientific Research Institute", "RU"),
    ("Tarsun Logistics Limited", "HK"),
    ("Hong Kong Computing Technologies Limited", "HK"),
    ("Meridian Capital Partners LLC", "US"),
    ("Orbital Trading Company", None),
    ("Sinokor Maritime Co., Ltd.", "KR"),
    ("Velocity Electronics Limited", "HK"),
    ("Harlan Whitfield", "US"),
    ("Harold D. Whitmore", "US"),
    ("Helena Vorontsova-Dashkova", None),
    ("Irina Petrovna Vorontsova", "RU"),
    ("Kestrel Aviation Services", None),
    ("Nordvik Shipping AS", "NO"),
    ("Hanshan Textile Group Co., Ltd.", "CN"),
    ("Brightwater Marine Supply LLC", "US"),
    ("Pamir Mountain Tours", "TJ"),
    ("Lightwave Logic Supply", "US"),
    ("Irrawaddy Rice Trading Co", "MM"),
    ("Orlovsky Dairy Plant", "RU"),
    ("Kapital Bank OJSC", "AZ"),
    ("Rodrigo Palma Esteves", "BR"),
    ("Selim Karaveli", "TR"),
    ("Dariush Mehrabi", "IR"),
    ("Kamran Rostamzadeh", None),
    ("Park Chul-soo", "KR"),
    ("Chol Ho Kim", None),
    ("Kwangju Trading Corporation", "KR"),
    ("Arktos Photonics AS", "NO"),
    ("Arktika Fisheries LLC", "RU"),
    ("Falcon Propulsion Systems Inc.", "US"),
    ("Qixing Optical Instruments Co., Ltd.", "CN"),
    ("Granit Stroy LLC", "RU"),
    ("Bahr Shipping Agency", "AE"),
    ("Al Noor Trading Est.", "AE"),
    ("Steelhawk Security Services", "US"),
    ("Microelectronics Research Institute", "CN"),
    ("Global Trading FZE", "AE"),
    ("Zhenhua Electronics", "CN"),
    ("Export Avionics International", "US"),
]


RECALL_FLOOR = 0.9
PRECISION_FLOOR = 0.9


def test_recall_and_precision() -> None:
    index = ScreeningIndex.build(read_list(CSL).entries)
    listed = {entry.name for entry in index.entries}
    assert {expected for *_, expected in POSITIVES} <= listed

    found: dict[str, list[bool]] = {}
    correct = reported = 0
    misses: list[str] = []
    for kind, name, country, expected in POSITIVES:
        matches = index.screen(name, country)
        hit = any(match.name == expected for match in matches)
        found.setdefault(kind, []).append(hit)
        correct += hit
        reported += len(matches)
        if not hit:
            best = index.screen(name, country, include_below_threshold=True, limit=1)
            misses.append(f"{name!r} -> {best[0].matched_name!r} {best[0].score}" if best else name)
    false_alarms: list[str] = []
    for name, country in NEGATIVES:
        matches = index.screen(name, country)
        reported += len(matches)
        false_alarms += [f"{name!r} -> {m.matched_name!r} {m.score}" for m in matches]

    recall = correct / len(POSITIVES)
    precision = correct / reported if reported else 1.0
    clean = 1 - len({alarm.split(" -> ")[0] for alarm in false_alarms}) / len(NEGATIVES)
    print(f"\nscreening quality at threshold {index.policy.threshold:g}:")
    for kind, hits in found.items():
        print(f"  recall {kind:16} {sum(hits)}/{len(hits)} = {sum(hits) / len(hits):.3f}")
    print(f"  recall    {correct}/{len(POSITIVES)} = {recall:.3f}")
    print(f"  precision {correct}/{reported} = {precision:.3f}")
    print(f"  look-alikes with no match {clean:.3f} of {len(NEGATIVES)}")
    for line in misses:
        print(f"  missed: {line}")
    for line in false_alarms:
        print(f"  false match: {line}")
    assert recall >= RECALL_FLOOR, misses
    assert precision >= PRECISION_FLOOR, false_alarms
