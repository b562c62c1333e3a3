"""Name normalisation for restricted-party screening.

`normalise` turns a party name, as a list or a user writes it, into lowercase
ASCII tokens split into STRONG tokens (the distinctive part of the name) and
WEAK tokens (legal forms, generic business and institution words, articles).
The steps:

1. Chinese legal-form and business suffixes written in Han characters
   (有限公司, 科技, 集团, ...) are replaced by their English equivalents, so
   "北京某某科技有限公司" and "Beijing Moumou Technology Co., Ltd." share their
   weak tokens.
2. Every script is transliterated to ASCII with `anyascii` (Cyrillic "Юрий" ->
   "yuriy", Han characters -> their pinyin syllables run together, Arabic and
   Hangul romanised, accents dropped) and lowercased.
3. Apostrophes vanish ("O'Neil" -> "oneil"); "&" becomes "and"; the dots of
   initialisms close up ("S.A." -> "sa", "L.L.C." -> "llc").
4. The State Department ISN boilerplate "and any successor, sub-unit, or
   subsidiary thereof" is removed.
5. "SURNAME, Given" becomes "Given SURNAME": always for individuals, never when
   `individual=False`, and by default when there is exactly one comma and the
   part after it looks like given names (no legal-form word).
6. Every other character separates tokens; tokens are `[a-z0-9]+`.
7. Russian legal-form phrases ("obshchestvo s ogranichennoy
   otvetstvennostyu") collapse to their abbreviations (ooo), "nauchno-
   issledovatelskiy" (scientific research) to "research", and weak words are
   replaced by one canonical spelling ("limited" -> "ltd", "technologies" ->
   "tech", "international" -> "intl", pinyin "youxian gongsi" -> "ltd co"), so
   equivalent legal forms compare equal. A misspelt long weak word ("Limtied",
   "Industris", "Technoogy": one edit, two from nine letters, same initial) is
   recognised as that word.

Weak tokens are kept, not dropped: the matcher gives them a small weight, so
"Kora Technology" and "Kora Trading" stay close while "Kora Technology" and
"Vela Technology" do not. A name made only of weak words keeps them all as
strong tokens (otherwise "Technology Trading Group" would have no name left).

`normalise` is idempotent: normalising the `full` string of a result gives the
same result, and it never raises on any text. `skeleton` folds the spelling
differences that transliteration systems produce (y/i, kh/h, ph/f, w/v, q/k,
ks/x, dzh/j, doubled letters) and is what the matcher compares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = ["ORGANISATION_WORDS", "WEAK_WORDS", "NormalizedName", "is_weak", "normalise", "skeleton"]


# Weak words by group; the first of a group is its canonical spelling. Pinyin
# forms (gongsi, youxian, jituan...) are the romanised Chinese legal forms.
_ORGANISATION_GROUPS: tuple[tuple[str, ...], ...] = (
    # legal forms
    ("co", "company", "companies", "cia", "compania", "companhia", "gongsi"),
    ("corp", "corporation", "corpn"),
    ("inc", "incorporated"),
    ("ltd", "limited", "ltda", "youxian"),
    ("llc",),
    ("llp",),
    ("lp",),
    ("gmbh",),
    ("ag",),
    ("kg",),
    ("sa",),
    ("sarl",),
    ("sas",),
    ("srl",),
    ("spa",),
    ("sl",),
    ("bv",),
    ("nv",),
    ("plc",),
    ("pte",),
    ("pvt",),
    ("private",),
    ("pty",),
    ("jsc",),
    ("cjsc",),
    ("ojsc",),
    ("pjsc",),
    ("ooo",),
    ("oao",),
    ("zao",),
    ("pao",),
    ("ao",),
    ("tov",),
    ("npo",),
    ("kk",),
    ("ab",),
    ("oy", "oyj"),
    ("as", "asa", "aps"),
    ("bhd",),
    ("sdn",),
    ("tbk",),
    ("fze",),
    ("fzco",),
    ("fzc",),
    ("est", "establishment"),
    ("joint",),
    ("stock", "gufen"),
    ("liability",),
    # generic business words
    ("tech", "technology", "technologies", "technological", "keji"),
    ("trading", "traders", "maoyi"),
    ("group", "grp", "jituan"),
    ("holding", "holdings", "konggu"),
    ("intl", "international", "internacional", "guoji"),
    ("ind", "industrial", "industries", "industry", "shiye"),
    ("electronics", "electronic"),
    ("enterprise", "enterprises"),
    ("mfg", "manufacturing"),
    ("import", "imports"),
    ("export", "exports"),
    ("impex", "jinchukou"),
    ("services", "service"),
    ("solutions",),
    ("systems", "system"),
    ("global",),
    # generic words of institutions' names
    ("research",),
    ("institute", "institut", "instituto"),
    ("scientific", "science", "sciences"),
    ("academy", "academia"),
    ("university",),
    ("center", "centre"),
    ("laboratory", "lab", "labs", "laboratories"),
    ("factory", "plant", "works", "zavod"),
)
# Articles and prepositions: weak, but no sign that a name is an organisation's.
_PARTICLE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("the",),
    ("of",),
    ("and",),
    ("for",),
    ("a",),
    ("an",),
    ("de",),
    ("del",),
    ("des",),
    ("la",),
    ("le",),
    ("du",),
    ("da",),
)


def _weak_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in (*_ORGANISATION_GROUPS, *_PARTICLE_GROUPS):
        for word in group:
            table[word] = group[0]
    return table


#: Weak word -> its canonical spelling (canonical spellings map to themselves).
WEAK_WORDS: dict[str, str] = _weak_table()

#: Canonical weak words that mark a name as an organisation's (not particles).
ORGANISATION_WORDS: frozenset[str] = frozenset(group[0] for group in _ORGANISATION_GROUPS)

# Weak words long enough to be recognised when misspelt, by initial letter.
_LONG_WEAK_BY_INITIAL: dict[str, tuple[str, ...]] = {}
for _word in sorted(WEAK_WORDS):
    if len(_word) >= 7:
        _LONG_WEAK_BY_INITIAL[_word[0]] = (*_LONG_WEAK_BY_INITIAL.get(_word[0], ()), _word)

# Han-character suffixes, longest first, and the English weak words they mean.
_CJK_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("股份有限公司", "co ltd"),
    ("有限责任公司", "co ltd"),
    ("有限責任公司", "co ltd"),
    ("有限公司", "co ltd"),
    ("進出口", "import export"),
    ("进出口", "import export"),
    ("集团", "group"),
    ("集團", "group"),
    ("公司", "co"),
    ("科技", "tech"),
    ("技术", "tech"),
    ("技術", "tech"),
    ("国际", "intl"),
    ("國際", "intl"),
    ("贸易", "trading"),
    ("貿易", "trading"),
    ("控股", "holding"),
    ("工业", "ind"),
    ("工業", "ind"),
    ("实业", "ind"),
    ("實業", "ind"),
)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# Russian legal-form phrases after transliteration, on the token string.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\bobshchestvo s ogranichenn(?:oy|oi|oj) otvetstvennost(?:yu|iu|ju|u)\b"),
        "ooo",
    ),
    (re.compile(r"\bpublichnoe aktsionernoe obshchestvo\b"), "pao"),
    (re.compile(r"\bzakrytoe aktsionernoe obshchestvo\b"), "zao"),
    (re.compile(r"\botkrytoe aktsionernoe obshchestvo\b"), "oao"),
    (re.compile(r"\baktsionernoe obshchestvo\b"), "ao"),
    (re.compile(r"\bnauchno proizvodstvennoe obedinenie\b"), "npo"),
    (re.compile(r"\bnauchno issledovatel(?:skiy|skii|skij|sky|skaya|skoe)\b"), "research"),
)

# "...; and any successor, sub-unit, or subsidiary thereof" (State ISN rows).
_BOILERPLATE = re.compile(
    r"[\s;,]*\b(?:and\s+)?any\s+successors?\s*[,;]?\s*sub\s*-?\s*units?\s*[,;]?\s*"
    r"(?:(?:and|or)\s+)?subsidiar(?:y|ies)(?:\s+thereof)?\b"
)
_APOSTROPHES = re.compile(r"['`]")
_INITIAL_DOT = re.compile(r"(?<![a-z0-9])([a-z])\.")
_TOKEN = re.compile(r"[a-z0-9]+")
_DOUBLED = re.compile(r"(.)\1+")
_SKELETON_RULES: tuple[tuple[str, str], ...] = (
    ("dzh", "j"),
    ("kh", "h"),
    ("ph", "f"),
    ("ck", "k"),
    ("ks", "x"),
    ("y", "i"),
    ("w", "v"),
    ("q", "k"),
)


@dataclass(frozen=True, slots=True)
class NormalizedName:
    """A normalised name: every token in order, and its strong / weak split."""

    full: str
    tokens: tuple[str, ...]
    strong: tuple[str, ...]
    weak: tuple[str, ...]

    @property
    def compact(self) -> str:
        """The strong tokens run together ("hua wei" -> "huawei")."""
        return "".join(self.strong)

    @property
    def organisation(self) -> bool:
        """True when a token is a legal form or a generic business word."""
        return any(token in ORGANISATION_WORDS for token in self.tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)


def is_weak(token: str) -> bool:
    """True for a legal-form word, a generic business word or an article."""
    return token in WEAK_WORDS


def normalise(text: str, *, individual: bool | None = None) -> NormalizedName:
    """Normalise a party name (see the module docstring for the steps).

    `individual=True` always reorders "SURNAME, Given"; False never does; None
    (the default) reorders when the text looks like that form.
    """
    folded = _fold(_translate_cjk_suffixes(text))
    folded = _strip_boilerplate(folded)
    folded = _reorder(folded, individual)
    token_text = _fixed_point(" ".join(_TOKEN.findall(folded)))
    tokens = tuple(_weak_form(token) for token in token_text.split())
    strong = tuple(token for token in tokens if token not in WEAK_WORDS)
    weak = tuple(token for token in tokens if token in WEAK_WORDS)
    if not strong:
        strong, weak = weak, ()
    return NormalizedName(full=" ".join(tokens), tokens=tokens, strong=strong, weak=weak)


@lru_cache(maxsize=1 << 16)
def _weak_form(token: str) -> str:
    """The canonical weak word `token` is or misspells, else `token` itself.

    A token of six letters or more that is one edit (optimal string alignment:
    a substitution, insertion, deletion or swap of neighbours) from a weak word
    of seven letters or more, two edits when the token has nine or more, and
    that starts with the same letter, is a misspelt weak word: "Limtied",
    "Industris", "Technoogy". Shorter weak words ("co", "sa", "ag") are only
    recognised exactly; they are too close to ordinary tokens.
    """
    exact = WEAK_WORDS.get(token)
    if exact is not None:
        return exact
    if len(token) < 6 or not token.isalpha():
        return token
    budget = 1 if len(token) <= 8 else 2
    candidates = _LONG_WEAK_BY_INITIAL.get(token[0])
    if not candidates:
        return token
    found = process.extractOne(
        token, candidates, scorer=OSA.distance, processor=None, score_cutoff=budget
    )
    return token if found is None else WEAK_WORDS[found[0]]


@lru_cache(maxsize=1 << 17)
def skeleton(token: str) -> str:
    """Fold transliteration variants of one token: "yuriy"/"iurii" -> "iuri"."""
    if token.isdigit():
        return token
    result = token
    for old, new in _SKELETON_RULES:
        if old in result:
            result = result.replace(old, new)
    return _DOUBLED.sub(r"\1", result)


def _translate_cjk_suffixes(text: str) -> str:
    if text.isascii():
        return text
    return _CJK_RUN.sub(_cjk_run, text)


def _cjk_run(match: re.Match[str]) -> str:
    run = match.group(0)
    words: list[str] = []
    stripped = True
    while stripped:
        stripped = False
        for suffix, english in _CJK_SUFFIXES:
            if run.endswith(suffix):
                run = run[: -len(suffix)]
                words.insert(0, english)
                stripped = True
                break
    return " " + " ".join((run, *words)) + " " if words else run


def _fold(text: str) -> str:
    folded = text if text.isascii() else anyascii(text)
    folded = _APOSTROPHES.sub("", folded.lower()).replace("&", " and ")
    return _INITIAL_DOT.sub(r"\1", folded)


def _strip_boilerplate(text: str) -> str:
    while True:
        stripped = _BOILERPLATE.sub(" ", text)
        if stripped == text:
            return text
        text = stripped


def _reorder(text: str, individual: bool | None) -> str:
    if individual is False or text.count(",") != 1:
        return text
    surname, given = text.split(",")
    surname_tokens = _TOKEN.findall(surname)
    given_tokens = _TOKEN.findall(given)
    if not surname_tokens or not given_tokens:
        return text
    if individual is None and (
        len(surname_tokens) > 3
        or len(given_tokens) > 3
        or any(token in WEAK_WORDS for token in surname_tokens + given_tokens)
    ):
        return text
    return f"{given} {surname}"


def _fixed_point(token_text: str) -> str:
    while True:
        changed = _strip_boilerplate(token_text)
        for pattern, replacement in _PHRASES:
            changed = pattern.sub(replacement, changed)
        changed = " ".join(changed.split())
        if changed == token_text:
            return changed
        token_text = changed
