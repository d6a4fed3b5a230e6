"""Keyword rules: the default solid-state-battery rule, the rule language, and its errors."""

from __future__ import annotations

import json
import re
import textwrap
import tomllib
from datetime import date
from pathlib import Path

import pytest

from newswatch.errors import ConfigError
from newswatch.models import Article, TickerItem
from newswatch.rules import (
    NearTerm,
    Rule,
    RuleMatch,
    RuleSet,
    default_rules_path,
    item_fields,
    load_rules,
    parse_rules,
)

SSB_RULE = "solid-state-battery"


@pytest.fixture(scope="module")
def default_rules() -> RuleSet:
    return load_rules(default_rules_path())


def rules_from(toml: str) -> RuleSet:
    return parse_rules(tomllib.loads(textwrap.dedent(toml)), Path("rules.toml"))


def fired(rules: RuleSet, **fields: str) -> list[str]:
    return [match.rule for match in rules.match(fields)]


# --- the default rule ------------------------------------------------------------------------

POSITIVES = [
    "Toyota bets on solid-state batteries for its 2027 EVs",
    "Toyota bets on solid state batteries for its 2027 EVs",
    "QuantumScape ships its first solid-state battery samples",
    "SOLID-STATE BATTERY START-UP RAISES $100 MILLION",
    "Japan subsidises all-solid-state batteries (ASSB) with US$660M",
    "METI approved four R&D projects on ASSB by the end of the year",
    "Idemitsu to build plant for all-solid-state battery materials",
    "Nio delivers cars with semi-solid-state battery packs",
    "WeLion starts mass production of semi-solid batteries",
    "Sulfide-based solid electrolytes promise safer next-generation cells",
    "Factorial's solid-state lithium-metal cells pass 500 cycles",
    "QuantumScape ships solid-state Li-metal battery samples to a carmaker",
    "Researchers report a halide solid-state electrolyte stable at 5 V",
    "Samsung SDI shows solid-state EV battery prototype",
    "SSB pilot line: the new battery plant will make 1 GWh of SSBs a year",
    "Mercedes tests an SSB with 25% more energy density per cell",
    "トヨタ、全固体電池の量産を2027年に開始",
    "出光興産が全固体リチウムイオン電池向け固体電解質を増産",
    "宁德时代发布固态电池研发进展",
    "半固态电池装车量持续增长",
    "台湾厂商布局全固態電池",
    "삼성SDI, 전고체 배터리 양산 준비",
    "현대차 전고체전지 시험 생산",
    "LG에너지솔루션 전고체 전지 개발",
    "Die Festkörperbatterie kommt 2028 in Serie",
    "Festkörperakkus sollen Reichweiten verdoppeln",
    "VW investiert in Festkörper-Akkus von QuantumScape",
    "BMW testet Feststoffbatterien im i7",
    "Neue Festkörperbatteriezellen aus Salzgitter",
]


@pytest.mark.parametrize("headline", POSITIVES)
def test_default_rule_catches_the_topic(default_rules: RuleSet, headline: str) -> None:
    assert fired(default_rules, title=headline) == [SSB_RULE]


NEGATIVES = [
    "Samsung's new solid-state drive doubles read speeds",
    "Solid-state drives (SSD) get cheaper as NAND prices fall",
    "Hitachi Energy pilots a solid-state transformer for the grid",
    "Solid-state transformers could ease the integration of battery storage",
    "Solid-state relay maker expands in Mexico",
    "Solid-state lighting cuts the refinery's power bill by 30%",
    "Hesai unveils a solid-state lidar for robotaxis",
    "Bloom Energy's solid oxide fuel cell wins a data-centre order",
    "SOFCs use a solid electrolyte made of zirconia, unlike PEM fuel cells",
    "State-owned battery maker CATL posts solid results",
    "A solid quarter for state-owned battery maker",
    "Fishing fleet upgrades its SSB radio and battery chargers",
    "Icom launches a new SSB radio for offshore vessels",
    "The solid electrolyte interphase (SEI) limits lithium-ion battery life",
    "Trumpf's new all-solid-state laser cuts steel faster",
    "固态硬盘价格下跌",
    "固体氧化物燃料电池示范项目投运",
    "Siemens liefert Festkörperrelais für Umspannwerke",
    "Solid results: the battery maker's shares rose 4% on the state stock exchange",
]


@pytest.mark.parametrize("headline", NEGATIVES)
def test_default_rule_ignores_hard_negatives(default_rules: RuleSet, headline: str) -> None:
    assert fired(default_rules, title=headline) == []


def test_article_mentioning_an_ssd_and_solid_state_batteries_matches(
    default_rules: RuleSet,
) -> None:
    body = (
        "The company, best known for its solid-state drives, said the new fab will also make "
        "solid state batteries for electric cars from 2027."
    )
    [match] = default_rules.match({"title": "Chipmaker diversifies", "body": body})
    assert match.terms == ("solid-state battery",)
    assert match.evidence == ("solid state batteries",)
    assert match.fields == ("body",)


def test_solid_electrolyte_far_from_a_fuel_cell_still_counts(default_rules: RuleSet) -> None:
    filler = " ".join(["The company also reported its annual results."] * 5)
    body = f"Its fuel cell unit grew. {filler} Its sulfide solid electrolyte plant opens in May."
    assert fired(default_rules, body=body) == [SSB_RULE]


def test_seed_article_page_is_flagged(default_rules: RuleSet) -> None:
    body = (
        "According to TrendForce's latest \u201cDevelopment Trends of Solid-State Battery "
        "Market (2025)\u201d, the Japanese government aims to achieve commercialization in "
        "all-solid-state batteries (ASSB) by about 2030."
    )
    [match] = default_rules.match({"title": "China & South Korea Tailgating", "body": body})
    assert match.terms == ("solid-state battery", "ASSB", "all-solid-state")
    assert match.evidence == ("Solid-State Battery", "all-solid-state batteries", "ASSB")


def test_ticker_items_are_matched_on_their_text(default_rules: RuleSet) -> None:
    item = TickerItem(url="https://example.com/a?id=1", text="Asia >> ASSB plant breaks ground")
    article = Article(url="https://example.com/b", title="Oil prices rise", body="No batteries.")
    assert fired(default_rules, **item_fields(item)) == [SSB_RULE]
    assert fired(default_rules, **item_fields(article)) == []
    assert item_fields(Article(url="u", title="T", body="B", published=date(2025, 1, 5))) == {
        "title": "T",
        "body": "B",
    }


# --- how terms match -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def variants() -> RuleSet:
    return RuleSet(
        [
            Rule("hyphen", any_terms=("solid-state battery",)),
            Rule("plural-written", any_terms=("fuel cells",)),
            Rule("y-plural", any_terms=("energy company",)),
            Rule("acronym", any_terms=("ASSB",)),
            Rule("compound", any_terms=("Festkörper-Akku*",)),
            Rule("both-open", any_terms=("*festkörperbatterie*",)),
            Rule("japanese", any_terms=("全固体電池",)),
            Rule("korean", any_terms=("전고체 배터리",)),
        ]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("solid-state battery", ["hyphen"]),
        ("solid state batteries", ["hyphen"]),
        ("solidstate battery", ["hyphen"]),
        ("Solid\u2011State  Batteries", ["hyphen"]),
        ("solid-state\nbattery's", ["hyphen"]),
        ("solid-state batteryless", []),
        ("a solid-state-battery start-up", ["hyphen"]),
        ("one fuel cell", ["plural-written"]),
        ("two fuel-cells", ["plural-written"]),
        ("fuel cellular", []),
        ("energy companies", ["y-plural"]),
        ("ASSBs and assb", ["acronym"]),
        ("GLASSBLOWER", []),
        ("die Festkörperakkus", ["compound"]),
        ("Festkörper-Akkumulatoren", ["compound"]),
        ("Hochvoltfestkörperbatterien", ["both-open"]),
        ("トヨタの全固体電池は", ["japanese"]),
        ("전고체배터리를", ["korean"]),
        ("ＡＳＳＢの開発", ["acronym"]),
    ],
)
def test_term_variants(variants: RuleSet, text: str, expected: list[str]) -> None:
    assert fired(variants, body=text) == expected


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("Die Festkörperakkus kommen", "Festkörperakkus"),
        ("Hochvoltfestkörperbatteriezellen", "Hochvoltfestkörperbatteriezellen"),
        ("トヨタの全固体電池は", "全固体電池"),
    ],
)
def test_evidence_shows_whole_words_for_open_terms(
    variants: RuleSet, text: str, evidence: str
) -> None:
    [match] = variants.match({"body": text})
    assert match.evidence == (evidence,)


def test_cjk_terms_match_as_substrings() -> None:
    rules = RuleSet([Rule("cn", any_terms=("固态电池",)), Rule("jp", any_terms=("固体電池",))])
    assert fired(rules, body="我国半固态电池产业化加速") == ["cn"]
    assert fired(rules, body="全固态电池") == ["cn"]
    assert fired(rules, body="全固体電池と半固体電池") == ["jp"]
    assert fired(rules, body="固体酸化物形燃料電池") == []


def test_terms_shared_and_overlapping_between_rules_are_all_found() -> None:
    rules = RuleSet(
        [
            Rule("long", any_terms=("all-solid-state",)),
            Rule("inner", any_terms=("solid-state battery",)),
            Rule("prefix", any_terms=("all",)),
            Rule("same", any_terms=("solid-state battery",)),
        ]
    )
    assert fired(rules, title="all-solid-state battery") == ["long", "inner", "prefix", "same"]


def test_evidence_merges_overlaps_deduplicates_and_is_capped() -> None:
    rules = RuleSet([Rule("r", any_terms=("all-solid-state", "solid-state battery", "ASSB"))])
    text = (
        "All-solid-state batteries, ASSB, assb, Assb. "
        "solid-state battery one; solid state battery two; solid-state batteries; "
        "solidstate battery; solid-state-battery."
    )
    [match] = rules.match({"body": text})
    assert match.terms == ("all-solid-state", "solid-state battery", "ASSB")
    assert match.evidence == (
        "All-solid-state batteries",
        "ASSB",
        "solid-state battery",
        "solid state battery",
        "solid-state batteries",
    )


def test_long_body_is_matched_once_per_occurrence() -> None:
    rules = RuleSet([Rule("r", any_terms=("solid-state battery",))])
    body = " ".join(["Oil prices rose on Tuesday in thin trading."] * 1200)
    body += " Solid-state batteries were mentioned once."
    [match] = rules.match({"body": body})
    assert match.evidence == ("Solid-state batteries",)


# --- any / all / none / near / fields --------------------------------------------------------


@pytest.fixture(scope="module")
def logic() -> RuleSet:
    return rules_from(
        """
        [[rules]]
        name = "toyota-ssb"
        any = ["solid-state battery", "ASSB"]
        all = ["Toyota", "Idemitsu"]
        none = ["obituary"]

        [[rules]]
        name = "titles-only"
        fields = ["title"]
        any = ["hydrogen"]

        [[rules]]
        name = "all-only"
        all = ["LNG", "Qatar"]
        """
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"body": "Toyota and Idemitsu team up on solid-state batteries"}, ["toyota-ssb"]),
        ({"title": "Toyota, Idemitsu", "body": "ASSB plant"}, ["toyota-ssb"]),
        ({"body": "Toyota team up on solid-state batteries"}, []),
        ({"body": "Toyota and Idemitsu team up"}, []),
        ({"body": "Toyota, Idemitsu, ASSB. An obituary."}, []),
        ({"title": "Hydrogen valley opens"}, ["titles-only"]),
        ({"body": "Hydrogen valley opens"}, []),
        ({"ticker": "Hydrogen valley opens"}, []),
        ({"body": "Qatar signs LNG deal"}, ["all-only"]),
        ({"body": "Qatar signs oil deal"}, []),
        ({}, []),
    ],
)
def test_any_all_none_and_fields(
    logic: RuleSet, fields: dict[str, str], expected: list[str]
) -> None:
    assert [m.rule for m in logic.match(fields)] == expected


@pytest.fixture(scope="module")
def near_rules() -> RuleSet:
    return rules_from(
        """
        [[rules]]
        name = "ssb"

        [[rules.near]]
        term = "SSB"
        context = ["battery", "electrolyte"]
        unless = ["radio"]
        within = 3
        """
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSB battery", True),
        ("battery SSB", True),
        ("SSB one two battery", True),  # 3 words away
        ("SSB one two three battery", False),  # 4 words away
        ("batteries: one two SSB", True),
        ("SSB electrolytes", True),
        ("SSB", False),
        ("SSB battery radio", False),
        ("SSB battery. The radio is far, far, far away, SSB battery", True),
        ("SSB in the title", False),
    ],
)
def test_near_counts_within_the_window(near_rules: RuleSet, text: str, expected: bool) -> None:
    assert bool(near_rules.match({"body": text})) is expected


def test_near_context_must_be_in_the_same_field(near_rules: RuleSet) -> None:
    assert near_rules.match({"title": "SSB", "body": "battery"}) == []


def test_near_counts_cjk_characters_as_words() -> None:
    rules = RuleSet([Rule("r", near=(NearTerm(terms=("SSB",), context=("电池",), within=2),))])
    assert fired(rules, body="SSB电池") == ["r"]
    assert fired(rules, body="SSB固态电池") == []  # 固, 态 in between: 3 words away


def test_near_counts_the_rest_of_a_word_an_open_term_ends_in_as_no_word() -> None:
    near = NearTerm(terms=("Festkörper*",), context=("Batterie",), within=1)
    rules = RuleSet([Rule("r", near=(near,))])
    assert fired(rules, body="Festkörperzellen Batterie") == ["r"]  # adjacent words
    assert fired(rules, body="Batterie Festkörperzellen") == ["r"]
    assert fired(rules, body="Festkörperzellen und Batterie") == []  # 2 words away


def test_rule_match_shape() -> None:
    rules = RuleSet([Rule("r", any_terms=("LNG",), all_terms=("Qatar",))])
    assert rules.match({"title": "Qatar LNG", "ticker": "more lng"}) == [
        RuleMatch(
            rule="r", terms=("LNG", "Qatar"), evidence=("Qatar", "LNG"), fields=("title", "ticker")
        )
    ]


def test_unknown_field_is_a_programming_error(default_rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="summary"):
        default_rules.match({"summary": "ASSB"})


# --- explain ---------------------------------------------------------------------------------


def test_explain_says_why_for_every_rule(logic: RuleSet, near_rules: RuleSet) -> None:
    explained = logic.explain({"body": "Toyota, ASSB. An obituary."})
    assert list(explained) == ["toyota-ssb", "titles-only", "all-only"]
    toyota = explained["toyota-ssb"]
    assert not toyota.fired
    assert toyota.terms == ("ASSB", "Toyota")
    assert toyota.missing_all == ("Idemitsu",)
    assert toyota.excluded_by == ("obituary",)
    assert "obituary" in toyota.reason and "Idemitsu" in toyota.reason
    assert explained["titles-only"].reason == "not fired: no any or near term found"

    radio = near_rules.explain({"body": "SSB battery radio"})["ssb"]
    assert (radio.fired, radio.blocked, radio.excluded_by) == (False, ("SSB",), ("radio",))
    lonely = near_rules.explain({"body": "SSB only"})["ssb"]
    assert lonely.without_context == ("SSB",)
    assert "no context term" in lonely.reason


def test_explain_of_a_fired_rule_matches_match(default_rules: RuleSet) -> None:
    fields = {"title": "Nio's semi-solid-state battery", "body": "SSB radio for boats"}
    [match] = default_rules.match(fields)
    explanation = default_rules.explain(fields)[SSB_RULE]
    assert explanation.fired
    assert (explanation.terms, explanation.evidence, explanation.fields) == (
        match.terms,
        match.evidence,
        match.fields,
    )
    assert explanation.blocked == ("SSB",)  # blocked in the body, the title still fires


def test_explanation_to_dict_is_json(default_rules: RuleSet) -> None:
    explanation = default_rules.explain({"body": "전고체 배터리"})[SSB_RULE]
    data = json.loads(json.dumps(explanation.to_dict(), ensure_ascii=False))
    assert data["rule"] == SSB_RULE
    assert data["fired"] is True
    assert data["evidence"] == ["전고체 배터리"]
    assert set(data) >= {"terms", "fields", "missing_all", "excluded_by", "blocked", "reason"}


# --- the rules file --------------------------------------------------------------------------


def test_default_rules_file_is_documented_and_loads() -> None:
    path = default_rules_path()
    assert path.name == "rules.toml" and path.is_file()
    rules = load_rules(path)
    assert [rule.name for rule in rules.rules] == [SSB_RULE]
    assert rules.rules[0].description
    assert path.read_text(encoding="utf-8").count("#") > 20


VALID_HEAD = '[[rules]]\nname = "ok"\nany = ["x"]\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            VALID_HEAD * 0 + '[[rules]]\nname = "a"\nanyy = ["x"]\n',
            "rules.toml: rules[0].anyy: unknown key; expected one of name, description, "
            'fields, any, all, none, near, prominence (did you mean "any"?)',
        ),
        (
            VALID_HEAD
            + VALID_HEAD.replace('"ok"', '"b"')
            + '[[rules]]\nname = "c"\n[[rules.near]]\nterm = "SSB"\ncontext = ["battery"]\n'
            'within = "ten"\n',
            'rules.toml: rules[2].near[0].within: expected a positive integer, got "ten"',
        ),
        (
            VALID_HEAD + '[[rules]]\nname = "c"\n[[rules.near]]\nterm = "SSB"\nwithin = 5\n',
            'rules.toml: rules[1].near[0]: expected "context" or "unless" (or both): '
            "the terms they qualify",
        ),
        (
            VALID_HEAD + '[[rules]]\nname = "c"\n[[rules.near]]\nterm = "SSB"\n'
            'context = ["x"]\nwithin = 0\n',
            "rules.toml: rules[1].near[0].within: expected a positive integer, got 0",
        ),
        (
            VALID_HEAD + '[[rules]]\nname = "c"\n[[rules.near]]\ncontext = ["x"]\n',
            'rules.toml: rules[1].near[0]: expected exactly one of "term" (a string) '
            'or "terms" (an array)',
        ),
        (
            VALID_HEAD + VALID_HEAD,
            'rules.toml: rules[1].name: duplicate rule name "ok" (also rules[0])',
        ),
        (
            '[[rules]]\nname = "empty"\ndescription = "nothing yet"\n',
            "rules.toml: rules[0]: rule has no terms; expected at least one of any, all, near",
        ),
        (
            '[[rules]]\nname = "empty"\nany = []\n',
            "rules.toml: rules[0]: rule has no terms; expected at least one of any, all, near",
        ),
        (
            '[[rules]]\nany = ["x"]\n',
            "rules.toml: rules[0].name: missing; expected the rule's name",
        ),
        (
            '[[rules]]\nname = "has space"\nany = ["x"]\n',
            "rules.toml: rules[0].name: expected a name of letters, digits, '-', '_' or '.', "
            'got "has space"',
        ),
        (
            '[[rules]]\nname = "a"\nany = "solid-state battery"\n',
            'rules.toml: rules[0].any: expected an array of strings, got "solid-state battery"',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x", 3]\n',
            "rules.toml: rules[0].any[1]: expected a string, got 3",
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x", "  "]\n',
            'rules.toml: rules[0].any[1]: expected a term, got "  "',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["solid*state"]\n',
            "rules.toml: rules[0].any[0]: '*' is only allowed at the start or end of a term, "
            'got "solid*state"',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["--"]\n',
            'rules.toml: rules[0].any[0]: a term needs at least one letter or digit, got "--"',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["solid-state battery", "Solid State Batteries"]\n',
            'rules.toml: rules[0].any[1]: "Solid State Batteries" duplicates any[0] '
            '"solid-state battery" (hyphen, space and plural variants are matched '
            "automatically)",
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x"]\nfields = ["title", "headline"]\n',
            'rules.toml: rules[0].fields[1]: expected one of title, body, ticker, got "headline"',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x"]\nfields = []\n',
            "rules.toml: rules[0].fields: expected at least one of title, body, ticker",
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x"]\nnear = 3\n',
            "rules.toml: rules[0].near: expected an array of tables ([[rules.near]]), got 3",
        ),
        (
            '[rules]\nname = "a"\n',
            "rules.toml: rules: expected an array of tables ([[rules]]), got a table",
        ),
        ("# nothing here\n", "rules.toml: rules: missing; expected at least one [[rules]] table"),
        (
            "rule = []\n",
            'rules.toml: rule: unknown key; expected one of rules (did you mean "rules"?)',
        ),
        (
            '[[rules]]\nname = "a"\nany = ["x"]\n[[rules.near]]\nterm = "y"\nunless = ["z"]\n'
            "whithin = 3\n",
            "rules.toml: rules[0].near[0].whithin: unknown key; expected one of term, terms, "
            'context, unless, within (did you mean "within"?)',
        ),
    ],
)
def test_validation_errors_name_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == message.replace("rules.toml", str(path), 1)
    assert caught.value.path == path


def test_parse_rules_without_a_file_names_only_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^rules\[0\]\.none\[0\]: expected a string, got true$"):
        parse_rules({"rules": [{"name": "a", "any": ["x"], "none": [True]}]})


def test_bad_toml_syntax_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nname = "a"\nany = ["x",\n  "y"\nnone = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: invalid TOML: ")
    assert "line 5" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read rules file"), (b"any = '\xff'\n", "not UTF-8 text")],
)
def test_unreadable_files_are_config_errors(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "rules.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        load_rules(path)


def test_near_accepts_a_list_of_terms_and_default_window() -> None:
    rules = rules_from(
        """
        [[rules]]
        name = "electrolyte"
        [[rules.near]]
        terms = ["solid electrolyte", "固态电解质"]
        unless = ["fuel cell", "燃料电池"]
        """
    )
    assert rules.rules[0].near[0].within == 10
    assert fired(rules, body="new solid electrolytes") == ["electrolyte"]
    assert fired(rules, body="solid electrolytes for fuel cells") == []
    assert fired(rules, body="固态电解质量产") == ["electrolyte"]
    assert fired(rules, body="燃料电池的固态电解质") == []


# --- prominence --------------------------------------------------------------------------------


def prominent(**prominence: int) -> RuleSet:
    table: dict[str, object] = {"name": "ssb", "any": ["solid-state battery", "全固体電池"]}
    table["prominence"] = prominence
    return parse_rules({"rules": [table]})


FILLER = "The company reported results for the quarter and said demand stayed firm in Asia."


def article(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


def test_prominent_terms_are_in_the_headline_the_lead_or_enough_paragraphs() -> None:
    rules = prominent(paragraphs=2)
    passing = article(FILLER, FILLER, "It also works on solid-state batteries.", FILLER)
    assert fired(rules, title="Quarterly results", body=passing) == []
    assert fired(rules, title="Solid-state battery plans", body=passing) == ["ssb"]
    lead = article("Solid-state batteries will come in 2027, the company said on Monday.", FILLER)
    assert fired(rules, title="Plans", body=lead) == ["ssb"]
    two = article(FILLER, "Its solid-state battery line opens.", FILLER, "A solid-state battery.")
    assert fired(rules, title="Plans", body=two) == ["ssb"]
    assert fired(prominent(paragraphs=3), title="Plans", body=two) == []


def test_mentions_count_when_asked_for() -> None:
    twice = article(FILLER, "Solid-state batteries, it said; solid-state batteries.", FILLER)
    assert fired(prominent(paragraphs=2), title="x", body=twice) == []
    assert fired(prominent(mentions=2), title="x", body=twice) == ["ssb"]


def test_a_byline_or_dateline_does_not_make_the_lead_on_its_own() -> None:
    rules = prominent(paragraphs=2)
    body = article("By Staff Writer", "OSAKA", "Solid-state batteries are coming, it said.", FILLER)
    assert fired(rules, title="x", body=body) == ["ssb"]
    later = article("By Staff Writer", FILLER, "Solid-state batteries are coming.", FILLER)
    assert fired(rules, title="x", body=later) == []


def test_ticker_items_briefs_and_line_broken_bodies() -> None:
    rules = prominent(paragraphs=2)
    assert fired(rules, ticker=f"{FILLER} Also solid-state batteries.") == ["ssb"]
    assert fired(rules, title="x", body=f"{FILLER} {FILLER} Also solid-state batteries.") == ["ssb"]
    lines = f"{FILLER}\n{FILLER}\nA solid-state battery.\n{FILLER}\nSolid-state batteries."
    assert fired(rules, title="x", body=lines) == ["ssb"]  # a line break is a paragraph too
    cjk = "トヨタは決算を発表した。販売は好調だった。利益も増えた。\n\n\n将来は全固体電池も使う。"
    assert fired(rules, title="決算", body=cjk) == []


def test_explain_says_mentioned_only_in_passing() -> None:
    rules = prominent(paragraphs=2)
    body = article(FILLER, FILLER, "It also works on solid-state batteries.", FILLER)
    explanation = rules.explain({"title": "Results", "body": body})["ssb"]
    assert not explanation.fired
    assert explanation.reason == (
        'not fired: mentioned only in passing ("solid-state battery": 1 mention, in paragraph 3'
        " of 4; prominent means in the headline, the lead or 2 paragraphs)"
    )
    assert explanation.to_dict()["in_passing"].startswith("1 mention")
    assert rules.explain({"title": "Solid-state battery", "body": body})["ssb"].in_passing == ""


def test_an_all_term_need_not_be_prominent() -> None:
    rules = parse_rules(
        {"rules": [{"name": "t", "all": ["Toyota"], "any": ["SSB"], "prominence": {}}]}
    )
    lead = "SSB news: cells are coming, and the first cars follow in two years."
    body = article(lead, FILLER, "Toyota said so.")
    assert fired(rules, title="x", body=body) == ["t"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("prominence = 2\n", "rules[0].prominence: expected a table ([rules.prominence]) with"),
        (
            "[rules.prominence]\nparagraph = 2\n",
            "unknown key; expected one of paragraphs, mentions",
        ),
        ("[rules.prominence]\nparagraphs = 0\n", "paragraphs: expected a positive integer, got 0"),
        (
            "[rules.prominence]\nmentions = true\n",
            "mentions: expected a positive integer, got true",
        ),
    ],
)
def test_prominence_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nname = "a"\nany = ["x"]\n' + toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_rules(path)
