"""Text normalisation for risk rules: one canonical spelling for text-speak, typos and punctuation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

# Apostrophes are deleted, not spaced, so "don't" and "dont" normalise alike.
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2018\u2019\u201b\u02bc\u02b9\u0060\u00b4\u2032"), None)
# Everything that is not a letter, a digit, or a leetspeak symbol separates words.
_SEPARATORS = re.compile(r"[^\w@$]+|_+")
# A letter typed three or more times in a row ("pleeease", "diiie").
_RUNS = re.compile(r"([^\W\d_])\1{2,}")
_LEET_CHARS = re.compile(r"[\d@$]")
# The same for plain ASCII text, which is most messages: str.translate is fast when 1:1.
_ASCII_KEEP = frozenset("abcdefghijklmnopqrstuvwxyz0123456789@$")
_ASCII_SEPARATORS = str.maketrans({chr(i): chr(i) if chr(i) in _ASCII_KEEP else " " for i in range(128)})
_ASCII_RUNS = re.compile(r"([a-z])\1\1")


class TextNormaliser:
    """Turn a young person's message into the canonical text that risk rules are written against."""

    def __init__(
        self,
        expansions: Mapping[str, str],
        leet: Mapping[str, str],
        rewrites: Sequence[tuple[str, str]],
        dropped_g_keep: Iterable[str] | None = None,
    ) -> None:
        """dropped_g_keep: real words ending in -in; every other word of 5+ letters ending in a
        consonant (or y) then -in is read with its g back ("thinkin" -> "thinking"). None: off."""
        for word, replacement in expansions.items():
            if not replacement.strip():
                raise ValueError(f"Expansion for {word!r} is empty.")
        self._expansions = dict(expansions)
        self._dropped_g = None if dropped_g_keep is None else frozenset(dropped_g_keep)
        self._leet = str.maketrans(dict(leet))
        self._rewrites = tuple((re.compile(p), r) for p, r in rewrites)
        # Rewrites run only when the text holds one of their anchor words (None: always run).
        self._rewrite_words: frozenset[str] | None = frozenset()
        for pattern, _ in rewrites:
            options = anchor_options(pattern)
            if not options:
                self._rewrite_words = None
                break
            self._rewrite_words |= min(options, key=lambda ws: (len(ws), any(w in COMMON_WORDS for w in ws)))

    def variants(self, text: str) -> tuple[str, ...]:
        """Return the normalised text, plus a second reading when letters were stretched."""
        if text.isascii():  # the common case, on a faster path
            text = text.lower().replace("'", "").replace("`", "").translate(_ASCII_SEPARATORS)
            runs = _ASCII_RUNS
        else:
            text = _SEPARATORS.sub(" ", _fold_unicode(text).translate(_APOSTROPHES))
            runs = _RUNS
        if runs.search(text) is None:
            return (self._canonical(text),)
        # "killlll" needs two letters kept, "diiie" needs one: try both readings.
        double = self._canonical(_RUNS.sub(r"\1\1", text))
        single = self._canonical(_RUNS.sub(r"\1", text))
        return (double,) if single == double else (double, single)

    def normalise(self, text: str) -> str:
        """Return the main normalised reading of a text."""
        return self.variants(text)[0]

    def _canonical(self, text: str) -> str:
        expansions = self._expansions
        keep = self._dropped_g
        if _LEET_CHARS.search(text) is None:
            if keep is None:
                out = " ".join([expansions.get(word, word) for word in text.split()])
            else:
                out = " ".join([
                    expansions.get(word) or (_with_g(word, keep, expansions) if word.endswith("in") else word)
                    for word in text.split()
                ])
        else:
            words = []
            for word in text.split():
                replacement = expansions.get(word)
                if replacement is None and not word.isalpha() and not word.isdigit():
                    # Digits or symbols inside a word are read as letters: k1ll, d13, h@te.
                    word = word.translate(self._leet)
                    replacement = expansions.get(word)
                if replacement is None and keep is not None and word.endswith("in"):
                    replacement = _with_g(word, keep, expansions)
                words.append(word if replacement is None else replacement)
            out = " ".join(words)
        if self._rewrite_words is None or not self._rewrite_words.isdisjoint(out.split()):
            for pattern, replacement in self._rewrites:
                out = pattern.sub(replacement, out)
        return out


def _with_g(word: str, keep: frozenset[str], expansions: Mapping[str, str]) -> str:
    """Put back the g a word ending in -in dropped ("endin" -> "ending"), unless it is a real -in word.

    Only after a consonant or y: -ain, -ein, -oin and -uin words ("again", "protein", "coin",
    "ruin") are left alone, as are words under five letters ("skin", "thin"; "goin" and "dyin"
    are expansions instead).
    """
    if len(word) < 5 or word[-3] in "aeiou" or word in keep or not word.isalpha():
        return word
    full = word + "g"
    return expansions.get(full, full)


def _fold_unicode(text: str) -> str:
    """Apply NFKC, drop accents and invisible format characters (zero-width spaces and the like)."""
    text = unicodedata.normalize("NFKC", text)
    decomposed = unicodedata.normalize("NFD", text)
    kept = [c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf")]
    return unicodedata.normalize("NFC", "".join(kept)).casefold()


# Words so common that anchoring a rule on them saves little work.
COMMON_WORDS = frozenset(
    "i me my you your to a the is am are and it of in on at for with he she they that this so do not "
    "be was have just all up out what can will want going get got like no now but or".split()
)
_WORD = re.compile(r"\w+")
try:  # the stdlib regex parser (private): without it every pattern simply runs on every text
    from re import _parser as _p

    _REPEATS = (_p.MAX_REPEAT, _p.MIN_REPEAT, getattr(_p, "POSSESSIVE_REPEAT", _p.MAX_REPEAT))
    _ZERO_WIDTH = (_p.ASSERT, _p.ASSERT_NOT)
except (ImportError, AttributeError):  # pragma: no cover
    _p = None
_MAX_SPELLINGS = 512


def anchor_options(pattern: str) -> list[frozenset[str]]:
    r"""List word sets such that every match of a pattern contains a whole word from each set.

    Matching texts are normalised (words of \w characters separated by single spaces), so a
    text holding no word of one of these sets cannot match and the regex need not run.
    An empty list means no such words were found.
    """
    if _p is None:
        return []
    try:
        return _options(list(_p.parse(pattern)), left=False, right=False)
    except Exception:  # an unusual construct: the pattern then runs on every text
        return []


def _options(items: list, left: bool, right: bool) -> list[frozenset[str]]:
    items = [it for it in items if it[0] not in _ZERO_WIDTH]
    options: list[frozenset[str]] = []
    k = 0
    while k < len(items):
        # A run of items that can only spell a few fixed strings is read as whole words.
        end, spellings = k, [""]
        while end < len(items) and items[end][0] is not _p.AT:
            more = _spellings(items[end])
            if more is None or len(spellings) * len(more) > _MAX_SPELLINGS:
                break
            spellings = [a + b for a in spellings for b in more]
            end += 1
        if end > k:
            lo, hi = _delim_before(items, k, left), _delim_after(items, end - 1, right)
            per_spelling = [_whole_words(spelling, lo, hi) for spelling in spellings]
            if len(per_spelling) == 1:
                options.extend(frozenset((w,)) for w in per_spelling[0])
            elif all(per_spelling):
                # A word every spelling shares is required on its own; otherwise any one word
                # from each spelling will do, and there are a few ways of choosing it.
                shared = set(per_spelling[0]).intersection(*per_spelling[1:])
                options.extend(frozenset((w,)) for w in sorted(shared))
                for pick in (_first, _last, _longest_rare):
                    options.append(frozenset(pick(words) for words in per_spelling))
            k = end
            continue
        op, av = items[k]
        lo, hi = _delim_before(items, k, left), _delim_after(items, k, right)
        if op is _p.SUBPATTERN:
            options.extend(_options(list(av[-1]), lo, hi))
        elif op is _p.BRANCH:
            alts = [_options(list(alt), lo, hi) for alt in av[1]]
            if all(alts):
                options.append(frozenset().union(*(min(a, key=len) for a in alts)))
        elif op in _REPEATS and av[0] >= 1:
            options.extend(_options(list(av[2]), False, False))
        k += 1
    return options


def _first(words: list[str]) -> str:
    return words[0]


def _last(words: list[str]) -> str:
    return words[-1]


def _longest_rare(words: list[str]) -> str:
    return min(words, key=lambda w: (w in COMMON_WORDS, -len(w)))


def _whole_words(spelling: str, left: bool, right: bool) -> list[str]:
    parts = spelling.split(" ")
    return [
        w for i, w in enumerate(parts)
        if w and _WORD.fullmatch(w) and (i > 0 or left) and (i < len(parts) - 1 or right)
    ]


def _spellings(item: tuple) -> list[str] | None:
    """Return every string an item can match, or None if there are too many or infinitely many."""
    op, av = item
    if op is _p.LITERAL:
        return [chr(av)]
    if op is _p.IN:  # the parser turns "(?:pushed|pushes)" into "pushe[ds]"
        chars: list[str] = []
        for kind, value in av:
            if kind is _p.LITERAL:
                chars.append(chr(value))
            elif kind is _p.RANGE and value[1] - value[0] < 26:
                chars.extend(map(chr, range(value[0], value[1] + 1)))
            else:
                return None
        return chars
    if op is _p.SUBPATTERN:
        return _seq_spellings(list(av[-1]))
    if op is _p.BRANCH:
        out: list[str] = []
        for alt in av[1]:
            more = _seq_spellings(list(alt))
            if more is None:
                return None
            out.extend(more)
        return out if len(out) <= _MAX_SPELLINGS else None
    if op in _REPEATS and av[1] <= 3:
        inner = _seq_spellings(list(av[2]))
        if inner is None:
            return None
        out, layer = ([""] if av[0] == 0 else []), [""]
        for count in range(1, av[1] + 1):
            layer = [a + b for a in layer for b in inner]
            if len(layer) > _MAX_SPELLINGS:
                return None
            if count >= av[0]:
                out.extend(layer)
        return out
    return None


def _seq_spellings(items: list) -> list[str] | None:
    out = [""]
    for item in items:
        if item[0] in _ZERO_WIDTH or item[0] is _p.AT:
            return None
        more = _spellings(item)
        if more is None or len(out) * len(more) > _MAX_SPELLINGS:
            return None
        out = [a + b for a in out for b in more]
    return out


def _delim_before(items: list, k: int, default: bool) -> bool:
    for j in range(k - 1, -1, -1):
        delim, empty = _edge(items[j], last=True)
        if not delim or not empty:
            return delim
    return default


def _delim_after(items: list, k: int, default: bool) -> bool:
    for j in range(k + 1, len(items)):
        delim, empty = _edge(items[j], last=False)
        if not delim or not empty:
            return delim
    return default


def _edge(item: tuple, last: bool) -> tuple[bool, bool]:
    """Say whether an item, where it touches its neighbour, is a word edge, and whether it can be empty."""
    op, av = item
    if op is _p.LITERAL:
        return av == 32, False
    if op is _p.AT or op in _ZERO_WIDTH:
        return True, op is not _p.AT
    if op is _p.SUBPATTERN:
        return _seq_edge(list(av[-1]), last)
    if op is _p.BRANCH:
        edges = [_seq_edge(list(alt), last) for alt in av[1]]
        return all(d for d, _ in edges), any(e for _, e in edges)
    if op in _REPEATS:
        delim, empty = _seq_edge(list(av[2]), last)
        return delim, empty or av[0] == 0
    return False, False


def _seq_edge(items: list, last: bool) -> tuple[bool, bool]:
    for item in reversed(items) if last else items:
        delim, empty = _edge(item, last)
        if not delim or not empty:
            return delim, False
    return True, True
