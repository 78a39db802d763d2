"""The tokenizer of the official Spider parser: quoted values kept whole, then NLTK's ``word_tokenize``.

``word_tokenize`` first cuts the text into sentences with the Punkt model and then applies the improved
Treebank rules to each sentence. Both steps change which SQL parses (``T1.*`` becomes ``t1 . *`` because
Punkt ends a sentence after ``T1.``; ``1,2`` stays one token; ``cannot`` becomes ``can not``), so both are
reproduced here from NLTK 3.10's rules. Punkt's English parameters are data: the abbreviation, collocation
and sentence-starter lists are copied below; of its orthographic statistics we keep none, which only matters
after a number, an initial or an abbreviation followed by a space (see ``_ORTHO_CONTEXT``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

__all__ = ["tokenize", "word_tokenize"]

# --- Punkt (sentence splitting) -----------------------------------------------------------------------

_ABBREV_TYPES = frozenset(
    """ct m.j t a.c n.h ms p.a.m dr pa p.m u.k st dec u.s.a lt g.k adm p h.m ga tenn yr sen n.c j.j d.h s.g inc
    vs s.p.a a.t n feb sr jan s.a.y n.y col g.f c.o.m.b d ft va r.k e.f chg r.i a.g minn a.h k n.j m l.f f.j
    gen i.m.s s.a aug j.p okla m.d.c ltd oct s vt r.a j.c ariz w.w b.v ore h w.r e.h mrs cie corp w n.v a.d r.j
    ok e.m w.c ill nov u.s prof conn u.s.s.r mg f.g ph.d g calif messrs h.f wash tues sw bros u.n l wis mr sep
    d.c ave e.l co s.s reps c r.t h.c r wed a.s v fla jr r.h c.v m.b.a rep a.a e c.i.t l.a b.f j.b d.w j.k ala
    f w.va sept mich n.m j.r l.p s.c colo fri a.m g.d kan maj ky a.m.e n.d t.j cos nev""".split()  # noqa: SIM905
) | {". . "}
_SENT_STARTERS = frozenset(
    """most he since so both these it nevertheless this indeed however instead under similarly some though
    while when in despite although nonetheless thus there if the nor separately moreover but they yet many
    according sales among meanwhile even i""".split()  # noqa: SIM905
)
_COLLOCATIONS = frozenset(
    tuple(pair.split(":"))
    for pair in """##number##:international ##number##:rj ##number##:commodities ##number##:cooper b:stewart
    ##number##:genentech ##number##:wedgestone i:toussie ##number##:pepper j:fialka o:ludcke ##number##:insider
    ##number##:aes i:magnin ##number##:credit ##number##:corrections ##number##:financing ##number##:henley
    ##number##:business ##number##:pay-fone b:wigton b:edelman b:levine ##number##:leisure b:smith j:walter
    ##number##:pegasus ##number##:dividend j:aron ##number##:review ##number##:abreast ##number##:who
    ##number##:letters ##number##:colgate ##number##:cbot ##number##:notable ##number##:zimmer""".split()  # noqa: SIM905
)
# Punkt's orthographic statistics (how often a word was seen capitalised, sentence-initially...) come from
# a 236 kB table of newspaper words. We ship none of it: every word reads as never seen. This changes a
# decision only for a period-final number, initial or abbreviation followed by whitespace and a word.
_ORTHO_CONTEXT: dict[str, int] = {}
_ORTHO_MID_UC, _ORTHO_UC, _ORTHO_BEG_LC, _ORTHO_LC = 1 << 2, 0b1110, 1 << 4, 0b1110000

_NON_WORD = "[)\";}\\]*:@'({\\[\u2018\u2019\u201c\u201d\xab\xbb?!]"
_MULTI_CHAR = r"(?:-{2,}|\.{2,}|(?:\.\s){2,}\.)"
_PUNKT_WORD = re.compile(
    rf"({_MULTI_CHAR}|(?=[^(\"`{{\[:;&#*@)}}\]\-,])\S+?(?=\s|$|{_NON_WORD}|{_MULTI_CHAR}|,(?=$|\s|{_NON_WORD}|{_MULTI_CHAR}))|\S)"
)
_PERIOD_CONTEXT = re.compile(rf"[.?!](?=(?P<after_tok>{_NON_WORD}|\s+(?P<next_tok>\S+)))")
_REALIGN = re.compile("[\"')\\]}\u2018\u2019\u201c\u201d\xab\xbb]+?(?:\\s+|(?=--)|$)", re.MULTILINE)
_NUMERIC = re.compile(r"^-?[.,]?\d[\d,.-]*\.?$")
_INITIAL = re.compile(r"[^\W\d]\.$")


@dataclass
class _PunktToken:
    tok: str
    type: str = field(init=False)
    sentbreak: bool = False
    abbr: bool = False
    ellipsis: bool = False

    def __post_init__(self) -> None:
        self.type = _NUMERIC.sub("##number##", self.tok.lower())

    @property
    def type_no_period(self) -> str:
        return self.type[:-1] if len(self.type) > 1 and self.type[-1] == "." else self.type

    @property
    def type_no_sentperiod(self) -> str:
        return self.type_no_period if self.sentbreak else self.type


def _first_pass(tok: _PunktToken) -> None:
    text = tok.tok
    if text in (".", "?", "!"):
        tok.sentbreak = True
    elif re.match(r"\.\.+$", text):
        tok.ellipsis = True
    elif text.endswith(".") and not text.endswith(".."):
        stem = text[:-1].lower()
        if stem in _ABBREV_TYPES or stem.split("-")[-1] in _ABBREV_TYPES:
            tok.abbr = True
        else:
            tok.sentbreak = True


def _ortho_says_starter(tok: _PunktToken) -> bool | None:
    """Punkt's orthographic heuristic: True/False, or None for its 'unknown'."""
    if tok.tok in tuple(";:,.!?"):
        return False
    context = _ORTHO_CONTEXT.get(tok.type_no_sentperiod, 0)
    if tok.tok[0].isupper() and context & _ORTHO_LC and not context & _ORTHO_MID_UC:
        return True
    if tok.tok[0].islower() and (context & _ORTHO_UC or not context & _ORTHO_BEG_LC):
        return False
    return None


def _starts_sentence_after_abbreviation(nxt: _PunktToken, next_typ: str) -> bool:
    return _ortho_says_starter(nxt) is True or (nxt.tok[0].isupper() and next_typ in _SENT_STARTERS)


def _second_pass(tok: _PunktToken, nxt: _PunktToken) -> None:
    if not tok.tok.endswith("."):
        return
    typ, next_typ = tok.type_no_period, nxt.type_no_sentperiod
    initial = _INITIAL.match(tok.tok) is not None
    if (typ, next_typ) in _COLLOCATIONS:
        tok.sentbreak, tok.abbr = False, True
        return
    if (tok.abbr or tok.ellipsis) and not initial and _starts_sentence_after_abbreviation(nxt, next_typ):
        tok.sentbreak = True
        return
    if initial or typ == "##number##":
        starter = _ortho_says_starter(nxt)
        unseen_lower = not _ORTHO_CONTEXT.get(next_typ, 0) & _ORTHO_LC
        if starter is False or (starter is None and initial and nxt.tok[0].isupper() and unseen_lower):
            tok.sentbreak, tok.abbr = False, True


def _contains_break(context: str) -> bool:
    """Whether Punkt sees a sentence break before the last token of ``context``."""
    toks = [_PunktToken(t) for line in context.split("\n") if line.strip() for t in _PUNKT_WORD.findall(line)]
    for tok in toks:
        _first_pass(tok)
    for i, tok in enumerate(toks):
        if i + 1 < len(toks):
            _second_pass(tok, toks[i + 1])
        if tok.sentbreak:
            return i + 1 < len(toks)
    return False


def _last_whitespace(text: str) -> int:
    for i in range(len(text) - 1, -1, -1):
        if text[i] in string.whitespace:
            return i
    return 0


def _candidate_contexts(text: str) -> list[tuple[re.Match[str], str]]:
    # Each candidate end (. ? !) with the word before it; a candidate whose word overlaps the next
    # candidate's word is dropped, as in NLTK (so 'acting!!!' is judged once, at its last '!').
    found: list[tuple[re.Match[str], str]] = []
    prev_slice, prev_match = slice(0, 0), None
    for match in _PERIOD_CONTEXT.finditer(text):
        after_space = _last_whitespace(text[prev_slice.stop : match.start()])
        start = after_space + prev_slice.stop + 1 if after_space else prev_slice.start
        word = slice(start, match.start())
        if prev_match and prev_slice.stop <= word.start:
            found.append((prev_match, text[prev_slice] + prev_match.group() + prev_match.group("after_tok")))
        prev_slice, prev_match = word, match
    if prev_match:
        found.append((prev_match, text[prev_slice] + prev_match.group() + prev_match.group("after_tok")))
    return found


def _sentences(text: str) -> list[str]:
    slices: list[slice] = []
    last = 0
    for match, context in _candidate_contexts(text):
        if _contains_break(context):
            slices.append(slice(last, match.end()))
            last = match.start("next_tok") if match.group("next_tok") else match.end()
    slices.append(slice(last, len(text.rstrip())))
    # Closing quotes/brackets right after a break belong to the sentence before it.
    out: list[str] = []
    realign = 0
    for i, current in enumerate(slices):
        current = slice(current.start + realign, current.stop)
        following = slices[i + 1] if i + 1 < len(slices) else None
        closing = _REALIGN.match(text[following]) if following is not None else None
        if following is not None and closing:
            out.append(text[current.start : following.start + len(closing.group(0).rstrip())])
            realign = closing.end()
        else:
            realign = 0
            if text[current]:
                out.append(text[current])
    return out


# --- Treebank (word splitting within a sentence) --------------------------------------------------------

_Rule = tuple["re.Pattern[str]", str]
_BEFORE_PARENS: list[_Rule] = [
    (re.compile("([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), "``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ (\[{<])(\"|'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
    (re.compile("([^.])(\\.)([\\])}>\"'»”’ ]*)\\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile("[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r"([^.])(\.)([\])}>\"']*)\s*$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
    (re.compile(r"[\]\[(){}<>]"), r" \g<0> "),
    (re.compile(r"--"), r" -- "),
]
_AFTER_PADDING: list[_Rule] = [
    (re.compile("([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
    *(
        (re.compile(pattern), r" \1 \2 ")
        for pattern in (
            r"(?i)\b(can)(not)\b",
            r"(?i)\b(d)('ye)\b",
            r"(?i)\b(gim)(me)\b",
            r"(?i)\b(gon)(na)\b",
            r"(?i)\b(got)(ta)\b",
            r"(?i)\b(lem)(me)\b",
            r"(?i)\b(more)('n)\b",
            r"(?i)\b(wan)(na)(?=\s)",
            r"(?i) ('t)(is)\b",
            r"(?i) ('t)(was)\b",
        )
    ),
]


def _treebank(sentence: str) -> list[str]:
    for pattern, replacement in _BEFORE_PARENS:
        sentence = pattern.sub(replacement, sentence)
    sentence = f" {sentence} "
    for pattern, replacement in _AFTER_PADDING:
        sentence = pattern.sub(replacement, sentence)
    return sentence.split()


def word_tokenize(text: str) -> list[str]:
    """NLTK 3.10's ``word_tokenize(text)`` for English."""
    return [tok for sentence in _sentences(text) for tok in _treebank(sentence)]


# --- The official tokenizer -------------------------------------------------------------------------------


def tokenize(sql: str) -> list[str]:
    """Tokens as the official parser sees them: lower-cased, quoted values kept whole (in double quotes,
    original case), and ``! = / > = / < =`` glued back together. Raises ``ValueError`` on an odd number of
    quotes (single quotes count as double ones)."""
    text = str(sql).replace("'", '"')
    quotes = [i for i, char in enumerate(text) if char == '"']
    if len(quotes) % 2:
        raise ValueError("Unexpected quote")
    values: dict[str, str] = {}
    # Right to left, so that earlier quote positions stay valid while values are cut out.
    for i in range(len(quotes) - 1, -1, -2):
        left, right = quotes[i - 1], quotes[i]
        key = f"__val_{left}_{right}__"
        values[key] = text[left : right + 1]
        text = text[:left] + key + text[right + 1 :]
    toks = [values.get(word.lower(), word.lower()) for word in word_tokenize(text)]
    for eq in reversed([i for i, tok in enumerate(toks) if tok == "="]):
        before = toks[eq - 1]  # index -1 for a leading '=': upstream reads the last token then, and so do we
        if before in ("!", ">", "<"):
            toks = [*toks[: eq - 1], before + "=", *toks[eq + 1 :]]
    return toks
