"""The factor notes vault is valid, and team notes merge over it by id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.factors import FACTORS, factor
from bot.notes import (
    INDEX_ID,
    Note,
    NotesError,
    NoteSet,
    builtin_notes_dir,
    load_notes,
    load_vault,
    parse_note,
    wiki_links,
)
from bot.output.sarif import _rule_descriptor
from bot.ruledocs import explain_factor, explain_rule
from bot.rules.registry import ALL_RULES, BY_CODE

ROOT = Path(__file__).resolve().parent.parent
VAULT = ROOT / "prompts" / "notes"
SECTIONS = ("## What the factor asks", "## Violations to look for", "## Not a violation")
SECTIONS += ("## How to fix",)


def note_text(note_id: str, body: str = "Some guidance.\n", **meta: object) -> str:
    fields: dict[str, object] = {
        "id": note_id,
        "title": "A note",
        "desc": "",
        "updated": 1700000000000,
        "created": 1700000000000,
    }
    fields.update(meta)
    lines = [
        f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {value}"
        for key, value in fields.items()
        if value is not None
    ]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body


# --- the built-in vault -------------------------------------------------------------


def test_builtin_dir_is_the_repository_vault() -> None:
    assert builtin_notes_dir().resolve() == VAULT.resolve()


def test_vault_has_the_index_and_twelve_factor_notes_and_nothing_unnamed() -> None:
    notes = load_vault(VAULT)
    expected = {INDEX_ID} | {f.note_id for f in FACTORS.values()}
    assert expected <= set(notes)
    assert sorted(p.name for p in VAULT.glob("*.md")) == sorted(f"{i}.md" for i in notes)


def test_front_matter_schema_and_ids_match_file_names() -> None:
    for path in sorted(VAULT.glob("*.md")):
        note = parse_note(path.read_text(encoding="utf-8"), str(path))
        assert note.id == path.name.removesuffix(".md")
        assert note.title and note.desc, path.name
        assert note.created > 1_600_000_000_000 and note.updated >= note.created, path.name
        assert note.body.strip(), path.name


def test_factor_numbers_match_slugs() -> None:
    notes = load_vault(VAULT)
    assert notes[INDEX_ID].factor is None
    for number, f in FACTORS.items():
        note = notes[f.note_id]
        assert note.factor == number
        assert note.id == f"tech.practice.12-factor-app.{f.slug}"
        assert note.title.startswith(f"{f.roman}. ")


def test_every_wiki_link_resolves_and_the_index_links_all_twelve() -> None:
    notes = load_notes()
    assert notes.links_resolve() == []
    index = notes.get(INDEX_ID)
    assert index is not None
    assert [i for i in wiki_links(index.body) if i != INDEX_ID][:12] == [
        factor(n).note_id for n in range(1, 13)
    ]


@pytest.mark.parametrize("number", range(1, 13))
def test_factor_note_has_the_four_sections_and_links_the_index(number: int) -> None:
    note = load_notes().for_factor(number)[0]
    positions = [note.body.find(f"\n{section}\n") for section in SECTIONS]
    assert all(p >= 0 for p in positions), (note.id, positions)
    assert positions == sorted(positions), note.id
    assert INDEX_ID in wiki_links(note.body)
    assert "```" in note.body.split("## How to fix", 1)[1], "How to fix needs examples"
    assert 400 <= len(note.body.split()) <= 1000, (note.id, len(note.body.split()))


@pytest.mark.parametrize("number", range(1, 13))
def test_rule_codes_named_in_a_note_exist_and_belong_to_its_factor(number: int) -> None:
    note = load_notes().for_factor(number)[0]
    codes = re.findall(r"\bTF\d{4}\b", note.body)
    assert codes, f"{note.id} should name the rules of its factor"
    for code in codes:
        assert code in BY_CODE, f"{note.id} names unknown rule {code}"
        assert BY_CODE[code].factor == number, f"{note.id} names {code} of another factor"


def test_notes_do_not_copy_the_seed_sentences() -> None:
    seed = Path("/work/shared/seed/tech.practice.12-factor-app.md")
    if not seed.exists():
        pytest.skip("seed note not available")
    prose = " ".join(n.body for n in load_notes())
    for sentence in re.split(r"(?<=[.;:])\s+", seed.read_text(encoding="utf-8")):
        words = sentence.strip(" >-*\n").split()
        if len(words) >= 8:
            assert " ".join(words) not in prose


# --- merge semantics -----------------------------------------------------------------


def test_team_note_with_an_existing_id_replaces_the_builtin_one() -> None:
    logs = factor(11).note_id
    team = {
        f"{logs}.md": note_text(logs, "Our logs go to journald. [[" + INDEX_ID + "]]\n", factor=11)
    }
    merged = load_notes(team)
    assert merged.get(logs) is not None
    assert merged.get(logs).body.startswith("Our logs go to journald.")  # type: ignore[union-attr]
    assert merged.get(logs).source == f"{logs}.md"  # type: ignore[union-attr]
    assert len(merged) == len(load_notes())
    assert merged.for_factor(11)[0].id == logs


def test_team_note_with_a_new_id_is_a_house_note_for_its_factor() -> None:
    house = "acme.house.secrets"
    merged = load_notes({f"notes/{house}.md": note_text(house, factor=3)})
    assert house in merged
    assert [n.id for n in merged.for_factor(3)] == [factor(3).note_id, house]
    assert [n.id for n in merged.for_factor(4)] == [factor(4).note_id]
    assert len(merged) == len(load_notes()) + 1
    plain = load_notes({"acme.glossary.md": note_text("acme.glossary")})
    assert plain.get("acme.glossary") is not None
    assert all(n.id != "acme.glossary" for k in range(1, 13) for n in plain.for_factor(k))


BAD = "team/acme.bad.md"
CONFIG_FILE = f"team/{factor(3).note_id}.md"


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        (BAD, "no front matter at all\n", "front matter"),
        (BAD, "---\nid: [unclosed\n---\nbody\n", "front matter"),
        (BAD, "---\n- a list\n---\nbody\n", "front matter"),
        (BAD, note_text("acme.bad", title=None), "title"),
        (BAD, note_text("acme.bad", updated="yesterday"), "updated"),
        (BAD, note_text("acme.bad", factor=13), "factor"),
        (BAD, note_text("acme.bad", id="acme bad"), "id"),
        (BAD, note_text("acme.other"), "id"),
        (CONFIG_FILE, note_text(factor(3).note_id, factor=4), "factor"),
        (CONFIG_FILE, note_text(factor(3).note_id), "factor"),
    ],
)
def test_bad_team_note_raises_naming_the_file_and_key(name: str, text: str, key: str) -> None:
    with pytest.raises(NotesError) as caught:
        load_notes({name: text, "team/acme.good.md": note_text("acme.good")})
    error = caught.value
    assert (error.file, error.key) == (name, key)
    assert str(error).startswith(f"{name}: {key}: ")


def test_unresolved_team_link_is_reported() -> None:
    merged = load_notes({"acme.x.md": note_text("acme.x", "See [[acme.missing]].\n")})
    assert merged.links_resolve() == ["acme.x -> acme.missing"]


def test_wiki_links_forms_and_code_is_ignored() -> None:
    body = (
        "[[a.b]] [[Label here|c.d]] [[e.f#heading]] [[dendron://vault/g.h]] `[[in.code]]`\n"
        "```sh\nif [[ -n $X ]]; then echo [[fenced]]; fi\n```\n"
        "[[ -f x ]] and [[last.one]]\n"
    )
    assert wiki_links(body) == ["a.b", "c.d", "e.f", "g.h", "last.one"]


# --- NoteSet: immutability and version -----------------------------------------------


def test_version_is_stable_and_changes_when_any_note_changes() -> None:
    base = load_notes()
    assert base.version == load_notes().version
    assert base.version == NoteSet(dict(base.notes)).version
    assert re.fullmatch(r"[0-9a-f]{64}", base.version)
    seen = {base.version}
    for number in (1, 7, 12):
        note = base.for_factor(number)[0]
        changed = note.model_copy(update={"body": note.body + "\nOne more line.\n"})
        seen.add(NoteSet({note.id: changed}).merged_over(base.notes).version)
    title = base.notes[INDEX_ID].model_copy(update={"title": "Renamed"})
    seen.add(NoteSet({INDEX_ID: title}).merged_over(base.notes).version)
    seen.add(load_notes({"acme.x.md": note_text("acme.x")}).version)
    assert len(seen) == 6


def test_version_ignores_where_the_notes_were_read_from(tmp_path: Path) -> None:
    for path in VAULT.glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert NoteSet(load_vault(tmp_path)).version == load_notes().version


def test_noteset_and_notes_are_immutable() -> None:
    notes = load_notes()
    with pytest.raises(AttributeError):
        notes.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        notes.notes["x"] = notes.notes[INDEX_ID]  # type: ignore[index]
    with pytest.raises(ValueError):
        notes.notes[INDEX_ID].title = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        NoteSet({"wrong.key": notes.notes[INDEX_ID]})


def test_load_vault_errors(tmp_path: Path) -> None:
    with pytest.raises(NotesError) as missing:
        load_vault(tmp_path / "nope")
    assert missing.value.key == "folder"
    (tmp_path / "acme.a.md").write_text(note_text("acme.a", factor=0), encoding="utf-8")
    with pytest.raises(NotesError) as bad:
        load_vault(tmp_path)
    assert bad.value.file.endswith("acme.a.md") and bad.value.key == "factor"


def test_parse_note_tolerates_bom_crlf_null_desc_and_extra_keys() -> None:
    text = note_text("acme.a", "Body.\n", tags="[x]").replace("desc: ''", "desc:")
    text = text.replace("\n", "\r\n")
    assert "desc:\r\n" in text
    note = parse_note("\ufeff" + text, "acme.a.md")
    assert isinstance(note, Note)
    assert note.desc == "" and note.body == "Body.\n" and note.factor is None


# --- rules point at their notes ------------------------------------------------------


def test_explain_and_sarif_name_the_factor_note() -> None:
    for rule in ALL_RULES:
        note_id = factor(rule.factor).note_id
        assert f"Note: prompts/notes/{note_id}.md" in explain_rule(rule)
        assert f"Factor note: {note_id}" in _rule_descriptor(rule)["help"]["markdown"]
        assert (VAULT / f"{note_id}.md").is_file()
    for number in FACTORS:
        assert f"Note: prompts/notes/{factor(number).note_id}.md" in explain_factor(number)
