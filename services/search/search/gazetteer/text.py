"""Core names: a place name without its administrative or spoken suffix.

"小河庄村委会" and "小河庄村" and "xiao he zhuang cun" all come down to 小河庄 /
xiao he zhuang: the index holds core names, a query is cut the same way. A
suffix is stripped only while at least two characters (syllables) remain, so 新村
stays 新村 and 柏乡 stays 柏乡.
"""

from __future__ import annotations

import re
import unicodedata

LEVELS = ("province", "city", "county", "township", "village")

# suffix → the levels it names (longest first when stripping)
_SUFFIX_LEVELS: dict[str, tuple[int, ...]] = {
    "社区居民委员会": (4,),
    "社区居委会": (4,),
    "村民委员会": (4,),
    "居民委员会": (4,),
    "村委会": (4,),
    "居委会": (4,),
    "委员会": (4,),
    "社区": (4,),
    "村": (4,),
    "嘎查": (4,),
    "街道办事处": (3,),
    "办事处": (3,),
    "街道": (3,),
    "镇": (3,),
    "乡": (3,),
    "苏木": (3,),
    "自治县": (2,),
    "自治旗": (2,),
    "新区": (2,),
    "县": (2,),
    "区": (2,),
    "旗": (2,),
    "市": (1, 2),
    "地区": (1,),
    "盟": (1,),
    "自治州": (1,),
    "维吾尔自治区": (0,),
    "自治区": (0,),
    "特别行政区": (0,),
    "省": (0,),
}
_SUFFIX_LENGTHS = sorted({len(s) for s in _SUFFIX_LEVELS}, reverse=True)
_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]")

_ETHNIC = (
    "满 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 "
    "水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 "
    "乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 各"
).split()
_AUTONOMOUS = re.compile(
    r"^(.{2,}?)(?:(?:" + "|".join(sorted(_ETHNIC, key=len, reverse=True)) + r")族?)+"
    r"(自治[县州旗区]|族?乡|族?镇|族?苏木|族?区)$"
)
_BRACKETS = re.compile(r"[（(][^）)]*[）)]")

# typed pinyin suffixes, as syllable tuples, longest first
_PINYIN_SUFFIX_LEVELS: dict[tuple[str, ...], tuple[int, ...]] = {
    ("cun", "min", "wei", "yuan", "hui"): (4,),
    ("ju", "min", "wei", "yuan", "hui"): (4,),
    ("she", "qu", "ju", "wei", "hui"): (4,),
    ("cun", "wei", "hui"): (4,),
    ("ju", "wei", "hui"): (4,),
    ("she", "qu"): (4,),
    ("cun",): (4,),
    ("jie", "dao", "ban", "shi", "chu"): (3,),
    ("jie", "dao"): (3,),
    ("zhen",): (3,),
    ("xiang",): (3,),
    ("zi", "zhi", "xian"): (2,),
    ("zi", "zhi", "zhou"): (1,),
    ("zi", "zhi", "qu"): (0,),
    ("xin", "qu"): (2,),
    ("xian",): (2,),
    ("qu",): (2,),
    ("shi",): (1, 2),
    ("di", "qu"): (1,),
    ("sheng",): (0,),
}
_PINYIN_SUFFIXES = sorted(_PINYIN_SUFFIX_LEVELS, key=len, reverse=True)


def normalize(text: str) -> str:
    """NFKC (full-width digits and brackets), no spaces, no bracketed notes."""
    text = unicodedata.normalize("NFKC", text)
    return _BRACKETS.sub("", text).replace(" ", "").strip()


def core_name(name: str) -> tuple[str, tuple[int, ...]]:
    """The core of a written place name and the levels its stripped suffix names
    (empty when nothing was stripped): "小河庄村委会" → ("小河庄", (4,))."""
    text = (normalize(name) or name) if _NOT_HAN.search(name) else name
    levels: tuple[int, ...] = ()
    if "族" in text:
        m = _AUTONOMOUS.match(text)
        if m:
            text = m.group(1)
            suffix = m.group(2)
            levels = (1,) if suffix.endswith("州") else (2,) if suffix[-1] in "县旗区" else (3,)
    for _ in range(2):
        size = len(text)
        for n in _SUFFIX_LENGTHS:
            if size - n >= 2:
                found = _SUFFIX_LEVELS.get(text[-n:])
                if found is not None:
                    text = text[:-n]
                    levels = levels or found
                    break
        else:
            break
    return text, levels


def core_syllables(syllables: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """Typed syllables without a spoken suffix ("xiao he zhuang cun" → xiao he zhuang)."""
    out = list(syllables)
    levels: tuple[int, ...] = ()
    for _ in range(2):
        for suffix in _PINYIN_SUFFIXES:
            n = len(suffix)
            if len(out) - n >= 2 and tuple(out[-n:]) == suffix:
                out = out[:-n]
                levels = levels or _PINYIN_SUFFIX_LEVELS[suffix]
                break
        else:
            break
    return out, levels
