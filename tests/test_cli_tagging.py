"""`archive retag` and `archive eval-tags` from a shell: output, exit codes, corrections kept."""

import json

import pytest

from archive.models import SearchQuery
from archive.service import Archive
from archive.taxonomy import shipped_taxonomy_text
from tests.conftest import CEOP_SEED, HYMAS_SEED, SEEDS
from tests.test_cli import json_lines, run


@pytest.fixture
def seeded(tmp_path):
    data = tmp_path / "data"
    assert run(data, "ingest", str(SEEDS)).returncode == 0
    return data


def test_retag_follows_a_changed_taxonomy_and_keeps_corrections(seeded):
    with Archive(seeded) as arch:
        ids = sorted(arch.store.ids())
        assert all("law_enforcement" in arch.get(i).topics for i in ids)
        arch.correct(ids[0], "law_enforcement", "add", "editor")
    (seeded / "taxonomy.toml").write_text(_with_threshold("law_enforcement", 1.01))
    proc = run(seeded, "retag")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == "re-tagged 2 articles; 1 changed topics"
    with Archive(seeded) as arch:
        assert "law_enforcement" in arch.get(ids[0]).topics  # a person's decision wins
        assert "law_enforcement" not in arch.get(ids[1]).topics
        assert not any(s.assigned for s in arch.get(ids[1]).scores if s.topic == "law_enforcement")
        assert arch.search(SearchQuery(topics=["law_enforcement"])).total == 1


def _with_threshold(topic: str, threshold: float) -> str:
    text = shipped_taxonomy_text()
    start = text.index(f"[{topic}]\n")
    line = text.index("threshold = ", start)
    end = text.index("\n", line)
    return text[:line] + f"threshold = {threshold}" + text[end:]


def test_retag_refuses_a_broken_taxonomy_in_one_line(seeded):
    (seeded / "taxonomy.toml").write_text("[[")
    proc = run(seeded, "retag")
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1 and "not valid TOML" in proc.stderr.decode()


def test_eval_tags_prints_figures_and_mistakes(tmp_path):
    path = tmp_path / "labelled.jsonl"
    records = [
        {"id": "ceop", "title": "", "text": CEOP_SEED.read_text(), "topics": ["law_enforcement", "policy"]},
        {"id": "hymas", "text": HYMAS_SEED.read_text(),
         "topics": ["law_enforcement", "platform_moderation", "policy", "prevention"]},
        {"id": "cake", "text": "Cream the butter and sugar, add eggs and flour, bake for forty minutes.", "topics": []},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in records))
    proc = run(tmp_path / "data", "eval-tags", str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "macro F1" in out and "off-topic records given a topic: 0 of 1 (0.0%)" in out
    # the CEOP seed also carries platform_moderation (see the seeds' labels): one mistake, named
    assert "ceop: '': law_enforcement, policy -> law_enforcement, platform_moderation, policy" in out
    report = json_lines(run(tmp_path / "data", "eval-tags", "--json", str(path)))[0]
    assert report["records"] == 3 and report["topics"]["platform_moderation"]["fp"] == 1
    assert [m["id"] for m in report["mistakes"]] == ["ceop"]
    assert not (tmp_path / "data").exists()  # evaluating stores nothing


def test_eval_tags_refuses_a_bad_file_in_one_line(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"text": "x", "topics": ["weather"]}\n')
    proc = run(tmp_path / "data", "eval-tags", str(path))
    assert proc.returncode == 1
    message = proc.stderr.decode()
    assert message.count("\n") == 1 and message.strip().endswith("line 1: unknown topics ['weather']; the topics are "
                                                                 "['policy', 'platform_moderation', 'law_enforcement', "
                                                                 "'prevention'].")  # fmt: skip
    missing = run(tmp_path / "data", "eval-tags", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1 and "cannot be read" in missing.stderr.decode()
