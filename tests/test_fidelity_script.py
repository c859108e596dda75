"""benchmarks/fidelity.py's merging: rows run apart join those of the same teacher."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "fidelity.py"


@pytest.fixture(scope="module")
def fidelity():
    spec = importlib.util.spec_from_file_location("fidelity_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_update_replaces_rows_of_the_same_teacher(fidelity, tmp_path):
    def run(name, *models):
        folder = tmp_path / name
        argv = ["--quick", "--datasets", "digits", "--seeds", "1", "--models"]
        fidelity.main([*argv, *models, "--output", str(folder)])
        return folder, json.loads((folder / "results.json").read_text("utf-8"))

    base, old = run("base", "single", "EnD²")
    later, new = run("later", "EnD² (transfer=None)")
    # Pretend the defaults changed between the runs: the later row is the new EnD².
    new["datasets"]["digits"]["per_seed"]["EnD²"] = new["datasets"]["digits"][
        "per_seed"
    ].pop("EnD² (transfer=None)")
    (later / "results.json").write_text(json.dumps(new), "utf-8")

    merged = fidelity.merge([base], tmp_path / "merged", [later])
    rows = merged["datasets"]["digits"]["per_seed"]
    assert rows["EnD²"] == new["datasets"]["digits"]["per_seed"]["EnD²"]
    assert rows["EnD²"] != old["datasets"]["digits"]["per_seed"]["EnD²"]
    assert rows["single"] == old["datasets"]["digits"]["per_seed"]["single"]
    assert "rows updated by" in merged["meta"]["command"]

    # Another teacher (its knowledge AUROC moved) is refused.
    new["datasets"]["digits"]["per_seed"]["ensemble"][0]["ood_auroc_knowledge"] += 0.01
    (later / "results.json").write_text(json.dumps(new), "utf-8")
    with pytest.raises(ValueError, match="another teacher"):
        fidelity.merge([base], tmp_path / "refused", [later])
    # A row new to the merged runs is added, for all of their seeds only.
    new["datasets"]["digits"]["per_seed"]["ensemble"][0]["ood_auroc_knowledge"] -= 0.01
    new["datasets"]["digits"]["per_seed"]["EnD"] = new["datasets"]["digits"][
        "per_seed"
    ]["EnD²"]
    (later / "results.json").write_text(json.dumps(new), "utf-8")
    merged = fidelity.merge([base], tmp_path / "added", [later])
    assert merged["datasets"]["digits"]["per_seed"]["EnD"] == rows["EnD²"]
    assert "EnD" in merged["datasets"]["digits"]["summary"]
    new["datasets"]["digits"]["seeds"] = [1]
    (later / "results.json").write_text(json.dumps(new), "utf-8")
    with pytest.raises(ValueError, match="seed 1 is not merged|not all of"):
        fidelity.merge([base], tmp_path / "refused2", [later])
