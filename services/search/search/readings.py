"""How Chinese names sound: every reading of a character, and the keys that let a
name said in dialect meet the written one.

People at a station give fragments by ear: a village "xiao he zhuang", a surname
that sounds like 张 or 章 or 詹 (zh/z merged). Matching therefore works on
readings, not characters:

- ``char_readings`` gives every toneless reading of a character (pypinyin's
  heteronyms plus the corrections in ``data/readings.yaml``: pypinyin lacks some
  place and surname readings, 漯 "luo" among them);
- ``loose`` folds a syllable onto its dialect-merged key (zh/z, ch/c, sh/s, n/l,
  f/hu, r/l, -ng/-n), so two names that a speaker of a southern dialect cannot
  tell apart get the same key;
- ``dialect_forms`` adds the mergers one key cannot hold (-n/-ng of f-
  syllables, h/w), for places and person names alike;
- ``split_pinyin`` cuts typed pinyin ("xiaohezhuang", "xiao he zhuang") into
  syllables.

Both the gazetteer (search.gazetteer) and the person-name index (search.names)
stand on this module: one place for the readings and the corrections.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from itertools import product

import yaml

from rescue_chassis import heap

# pypinyin is imported where it is first needed: a search service that never matches
# a name should not carry its large dictionaries at idle.


@cache
def pypinyin():
    """pypinyin, imported on first use; its dictionaries (many objects, kept for
    good) then go out of the garbage collector's way."""
    import pypinyin
    import pypinyin.pinyin_dict

    heap.settle(collect=False)  # no full pass now: the event loop may be waiting
    return pypinyin


#: At most this many reading combinations of one name are produced: a name of
#: four characters with three readings each already gives 81.
MAX_COMBINATIONS = 64


@cache
def corrections() -> dict[str, dict[str, object]]:
    """The correction table: characters, places and surnames (data/readings.yaml)."""
    text = resources.files("search").joinpath("data/readings.yaml").read_text("utf-8")
    table = yaml.safe_load(text) or {}
    return {
        "characters": {k: tuple(v) for k, v in (table.get("characters") or {}).items()},
        "places": {k: tuple(v.split()) for k, v in (table.get("places") or {}).items()},
        "surnames": {k: tuple(v.split()) for k, v in (table.get("surnames") or {}).items()},
    }


def toneless(text: str) -> str:
    """Lower-case ASCII pinyin without tone marks: "Lǜ" and "lu:" are "lv".
    pypinyin's "ü" is "v" in Style.NORMAL; typed input uses "v", "u:" or "ü" —
    all fold to "v" here and to "u" in ``loose``."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("u:", "v"))
    return decomposed.replace("u\u0308", "v").encode("ascii", "ignore").decode()


@cache
def syllables() -> frozenset[str]:
    """Every toneless syllable of Mandarin that pypinyin knows."""
    found: set[str] = set()
    for readings in pypinyin().pinyin_dict.pinyin_dict.values():
        for reading in readings.split(","):
            syllable = toneless(reading)
            if syllable.isalpha():
                found.add(syllable)
    return frozenset(found)


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0002ebef"


@cache
def char_readings(ch: str) -> tuple[str, ...]:
    """Every toneless reading of one character, corrections first; a character that
    is not Han (a digit, a Latin letter) reads as itself."""
    if not is_han(ch):
        return (ch.lower(),)
    extra = corrections()["characters"].get(ch, ())
    found = pypinyin().pinyin(ch, style=pypinyin().Style.NORMAL, heteronym=True, errors="ignore")
    readings = [r for r in extra]
    for r in found[0] if found else ():
        r = r.replace("ü", "v")
        if r not in readings:
            readings.append(r)
    return tuple(readings) or (ch,)


def text_readings(text: str) -> list[tuple[str, ...]]:
    """The readings of each Han character of ``text`` (others are dropped)."""
    return [char_readings(ch) for ch in text if is_han(ch)]


def preferred_reading(text: str, kind: str = "place") -> tuple[str, ...]:
    """The one reading to show and to rank first: the correction table's for a
    known place or surname, else the first reading of each character."""
    table = corrections()["places" if kind == "place" else "surnames"]
    if text in table:
        return table[text]
    out: list[str] = []
    i = 0
    han = [ch for ch in text if is_han(ch)]
    while i < len(han):
        # the longest known prefix (places: "单县" in "单县城关镇")
        for j in range(len(han), i, -1):
            if "".join(han[i:j]) in corrections()["places"]:
                out.extend(corrections()["places"]["".join(han[i:j])])
                i = j
                break
        else:
            out.append(char_readings(han[i])[0])
            i += 1
    return tuple(out)


def combinations(per_char: list[tuple[str, ...]], limit: int = MAX_COMBINATIONS):
    """Reading sequences of a text, the first readings first, at most ``limit``."""
    for n, combo in enumerate(product(*per_char)):
        if n >= limit:
            return
        yield combo


# ---- dialect-merged keys -------------------------------------------------------------

_INITIAL_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("r", "l"))
_FINAL_FOLDS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("v", "u"))


@cache
def loose(syllable: str) -> str:
    """The dialect-merged key of a toneless syllable: zh/z, ch/c, sh/s, n/l, r/l
    and f/hu initials, -ng/-n finals, ü/u. "zhang" → "zan", "fei" → "hui",
    "nong" → "long", "feng" → "hong"."""
    s = syllable.lower().replace("ü", "v")
    if s.startswith("f"):
        final = s[1:]
        s = "h" + (final if final.startswith("u") else "u" + final)
        s = s.replace("ueng", "ong").replace("uei", "ui").replace("uen", "un").replace("uou", "ou")
    for a, b in _INITIAL_FOLDS:
        if s.startswith(a):
            s = b + s[len(a) :]
            break
    for a, b in _FINAL_FOLDS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s.replace("v", "u")


def hw_twin(key: str) -> str | None:
    """The h/w twin of a dialect-merged key (Wu and Gan speakers: 黄/王, 胡/吴,
    魂/文, 回/为): "huan" ↔ "wan", "hu" ↔ "wu"; None for other syllables."""
    if key.startswith("hu"):
        rest = key[2:]
        return {"": "wu", "n": "wen", "i": "wei"}.get(rest, "w" + rest)
    if key.startswith("w"):
        rest = key[1:]
        return {"u": "hu", "en": "hun", "ei": "hui"}.get(rest, "hu" + rest)
    return None


@cache
def dialect_forms(syllable: str) -> tuple[str, ...]:
    """Every dialect-merged key a syllable may be heard as: its own, its -n/-ng
    twin's (``loose`` folds f onto hu before -ng onto -n, so "fen" alone would
    never meet 丰 "feng") and the h/w twins of both. Places and person names
    both meet through these."""
    forms = [loose(syllable)]
    if syllable.endswith(("ang", "eng", "ing")):
        forms.append(loose(syllable[:-1]))
    elif syllable.endswith(("an", "en", "in")):
        forms.append(loose(syllable + "g"))
    for form in list(forms):
        twin = hw_twin(form)
        if twin is not None:
            forms.append(twin)
    return tuple(dict.fromkeys(forms))


def sound_alike(a: str, b: str) -> bool:
    """Two toneless syllables a dialect speaker may not tell apart."""
    return bool(set(dialect_forms(a)) & set(dialect_forms(b)))


def loose_readings(text: str) -> list[tuple[str, ...]]:
    """Per Han character, its distinct dialect-merged keys."""
    return [tuple(dict.fromkeys(loose(r) for r in rs)) for rs in text_readings(text)]


# ---- typed pinyin ---------------------------------------------------------------------

_LATIN = re.compile(r"[a-zü:]+")


def is_pinyin(text: str) -> bool:
    """Typed Latin letters, not characters: "xiao he zhuang", "XiaoHeZhuang"."""
    text = unicodedata.normalize("NFKC", text).strip()
    return bool(text) and not any(is_han(ch) for ch in text) and any(c.isalpha() for c in text)


@cache
def _segment(token: str) -> tuple[str, ...] | None:
    """The fewest syllables that spell ``token`` exactly, or None."""
    known = syllables()
    best: list[tuple[str, ...] | None] = [None] * (len(token) + 1)
    best[0] = ()
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            piece = token[start:end]
            if head is not None and piece in known:
                candidate = (*head, piece)
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return best[len(token)]


def split_pinyin(text: str) -> list[str]:
    """Typed pinyin cut into syllables: spaces, apostrophes and hyphens split first
    ("xi'an" is two), then each run is cut into the fewest known syllables. A run
    that spells no syllables (a typo) is kept whole, for fuzzy scoring."""
    text = toneless(text)
    out: list[str] = []
    for token in _LATIN.findall(text):
        pieces = _segment(token)
        out.extend(pieces if pieces else (token,))
    return out
