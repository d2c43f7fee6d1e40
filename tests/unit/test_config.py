from pathlib import Path

import pytest
import yaml

from shared.config import (
    ConfigError,
    ProjectConfig,
    RulesConfig,
    check_rules,
    load_project,
    load_roles,
    load_rules,
    parse_project,
)

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_are_valid() -> None:
    p = load_project(REPO / "config" / "project.yaml")
    r = load_roles(REPO / "config" / "roles.yaml")
    assert p.task == "regression" and p.id_column == "order_id"
    assert "distance_km" in p.features and p.features["zone"].values
    assert r.phase == "Building"
    assert "Model Risk Manager" in r.approval.required_roles
    assert "MLOps Engineer" in r.roles_of("sora")


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda d: d.update(task="ranking"), "task", "regression"),
        (
            lambda d: d["validation"].update(min_valid_fraction=1.5),
            "validation.min_valid_fraction",
            "less than or equal to 1",
        ),
        (lambda d: d["features"]["hour"].update(min=30), "features.hour", "greater than max"),
        (lambda d: d["features"]["zone"].pop("values"), "features.zone", "values"),
        (lambda d: d.update(colour="blue"), "colour", "Extra inputs"),
        (lambda d: d.pop("target"), "target", "Field required"),
        (
            lambda d: d["storage"].update(partition_rows=0),
            "storage.partition_rows",
            "must be a positive number of input rows, or auto",
        ),
        (
            lambda d: d["storage"].update(partition_rows="fast"),
            "storage.partition_rows",
            "or auto (sized to the machine's cores), not 'fast'",
        ),
    ],
)
def test_wrong_config_names_file_field_and_problem(tmp_path, mutate, field, problem) -> None:
    path = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError) as e:
        load_project(path)
    msg = str(e.value)
    assert str(path) in msg and f"'{field}" in msg and problem in msg


def test_missing_and_unparsable_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_project(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_project(bad)


def test_roles_reject_unknown_role(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "roles.yaml").read_text())
    data["approval"]["required_roles"] = ["Chief Vibes Officer"]
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="unknown role 'Chief Vibes Officer'"):
        load_roles(path)


def test_metaflow_parser_returns_plain_validated_data() -> None:
    from shared.flowkit import RenkeiFlowError

    data = parse_project((REPO / "config" / "project.yaml").read_text())
    assert data["features"]["rain"]["type"] == "bool"
    # under Metaflow a ConfigError ends the command in one line (its own exception type)
    with pytest.raises(RenkeiFlowError, match="project.yaml: field 'task'"):
        parse_project(
            (REPO / "config" / "project.yaml").read_text().replace("task: regression", "task: x")
        )
    # parsed without its path on the command line (Metaflow's Runner computing parameters
    # in the caller's process): only project.yaml is checked, no other project's files read
    other = (REPO / "config" / "project.yaml").read_text() + "# another project's file\n"
    assert parse_project(other)["included"] is None


def test_config_hash_changes_with_settings(tmp_path: Path) -> None:
    a = load_project(REPO / "config" / "project.yaml")
    b = load_project(_broken(tmp_path, lambda d: d["validation"].update(min_valid_fraction=0.5)))
    assert a.config_hash() != b.config_hash()
    assert a.config_hash() == load_project(REPO / "config" / "project.yaml").config_hash()


def test_partition_rows_auto_hashes_as_the_fixed_size_it_replaced(tmp_path: Path) -> None:
    # issue 26: the shipped default became `auto`; the partition size changes no result
    # (dataset versions are split-independent), so `auto` hashes as 250,000 did and the
    # config hashes recorded with model versions stay; another size is another setting
    shipped = load_project(REPO / "config" / "project.yaml")
    assert shipped.storage.partition_rows == "auto"
    fixed = load_project(_broken(tmp_path, lambda d: d["storage"].update(partition_rows=250_000)))
    assert fixed.storage.partition_rows == 250_000
    assert shipped.config_hash() == fixed.config_hash()
    other = _broken(tmp_path, lambda d: d["storage"].update(partition_rows=1000))
    assert load_project(other).config_hash() != shipped.config_hash()


# -- guard rules checked against the project's features (issue 10, problem 2) -------------
def _rules_file(tmp_path: Path, **rule: object) -> Path:
    """config/rules.yaml with one more rule (input, or output for floor/cap/round)."""
    data = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    part = "output" if rule["kind"] in ("floor", "cap", "round") else "input"
    data[part].append({"name": "extra", **rule})
    path = tmp_path / "my_rules.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            {"kind": "range", "column": "distance_miles", "max": 30},
            "column 'distance_miles' is not a feature of the project",
        ),
        ({"kind": "range", "column": "zone", "min": 1}, "a range needs a numeric feature"),
        (
            {"kind": "allowed", "column": "zone", "values": ["center", "moon"]},
            "value(s) ['moon'] are not among 'zone'",
        ),
        (
            {"kind": "expression", "expr": "speed_kmh < 80"},
            "names 'speed_kmh', not feature(s) of the project",
        ),
        (
            {"kind": "expression", "expr": "zone != 'atlantis'"},
            "compares 'zone' with ['atlantis'], outside its values",
        ),
        ({"kind": "expression", "expr": "prep_minutes +"}, "is not valid"),
        ({"kind": "expression", "expr": "prep_minutes * 2"}, "must be true or false per row"),
        ({"kind": "floor", "expr": "eta_minutes - 5"}, "names 'eta_minutes'"),
    ],
)
def test_rules_that_do_not_fit_the_features_name_file_rule_and_problem(
    tmp_path: Path, rule: dict, problem: str
) -> None:
    cfg = load_project(REPO / "config" / "project.yaml")
    path = _rules_file(tmp_path, **rule)
    with pytest.raises(ConfigError) as e:
        load_rules(path, cfg)
    msg = str(e.value)
    assert msg.startswith(f"{path}: rules do not fit project 'eta'")
    assert f"rule 'extra' ({rule['kind']})" in msg and problem in msg
    assert "\n" not in msg


def test_shipped_rules_fit_the_project_and_constants_are_fine(tmp_path: Path) -> None:
    cfg = load_project(REPO / "config" / "project.yaml")
    shipped = load_rules(REPO / "config" / "rules.yaml")
    check_rules(shipped, cfg, "config/rules.yaml")
    load_rules(_rules_file(tmp_path, kind="floor", expr="25"), cfg)
    load_rules(_rules_file(tmp_path, kind="expression", expr="True"), cfg)
    load_rules(_rules_file(tmp_path, kind="expression", expr="abs(hour - 12) <= 12"), cfg)


def test_binary_caps_must_be_probabilities() -> None:
    data = yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    data.update(task="binary", target="late", target_range={}, baseline={})
    data["training"]["key_metric"] = "roc_auc"
    cfg = ProjectConfig.model_validate(data)
    rules = RulesConfig.model_validate({"output": [{"name": "c", "kind": "cap", "value": 150}]})
    with pytest.raises(ConfigError, match="cap 150.0 is not a probability"):
        check_rules(rules, cfg, "r.yaml")


@pytest.mark.parametrize(
    ("baseline", "problem"),
    [
        ({"rule": "threshold", "params": {"feature": "zone"}}, "numeric or bool feature"),
        ({"rule": "threshold", "params": {"feature": "rain", "p_above": 3}}, "a probability"),
        ({"rule": "stump", "params": {"depth": 2}}, "not parameters of rule 'stump'"),
    ],
)
def test_binary_baseline_params_are_checked(tmp_path: Path, baseline: dict, problem: str) -> None:
    def mutate(d: dict) -> None:
        d.update(task="binary", target="late", target_range={}, baseline=baseline)
        d["training"]["key_metric"] = "roc_auc"

    path = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError, match=r"field '\(top level\)'|baseline") as e:
        load_project(path)
    assert str(path) in str(e.value) and problem in str(e.value)


def test_binary_default_baseline_is_the_learned_stump(tmp_path: Path) -> None:
    def mutate(d: dict) -> None:
        d.update(task="binary", target="late", target_range={})
        d.pop("baseline")
        d["training"]["key_metric"] = "roc_auc"

    assert load_project(_broken(tmp_path, mutate)).baseline.rule == "stump"


def test_a_project_folder_reads_the_files_it_names(tmp_path: Path) -> None:
    from shared.config import load_project_set
    from tests.conftest import write_project

    project = write_project(tmp_path, files={"rules": "guard/strict.yaml"})
    (tmp_path / "guard").mkdir()
    rules = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    rules["limits"] = {"max_intervention_rate": 0.01}
    (tmp_path / "guard" / "strict.yaml").write_text(yaml.safe_dump(rules))
    for where in (tmp_path, project):  # the folder, or its project.yaml
        s = load_project_set(where)
        assert s.rules.limits.max_intervention_rate == 0.01
        assert s.sources["rules"] == str(tmp_path / "guard" / "strict.yaml")
        assert s.sources["costs"] == str(tmp_path / "costs.yaml")
        assert s.roles == load_roles(REPO / "config" / "roles.yaml")
    # a file under its usual name may be left out (issue 29: its default stands in); one
    # named otherwise in files: must be there
    (tmp_path / "costs.yaml").unlink()
    s = load_project_set(tmp_path)
    assert s.defaults == ("costs",) and not s.costs.configured
    (tmp_path / "guard" / "strict.yaml").unlink()
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'guard' / 'strict.yaml'}: config file"):
        load_project_set(tmp_path)


def test_a_project_of_one_file_runs_on_defaults_that_say_what_they_mean(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from shared.cli import cli
    from shared.config import load_project_set, parse_project, set_from_flow
    from tests.conftest import write_project

    write_project(tmp_path)
    for name in ("rules.yaml", "roles.yaml", "costs.yaml"):
        (tmp_path / name).unlink()
    s = load_project_set(tmp_path)
    assert s.defaults == ("rules", "roles", "costs")
    # no rules: the contract and the envelope only; no costs: none configured; no roles:
    # the demo team, in dev mode
    assert [(r.kind, r.action) for r in s.rules.input] == [("envelope", "fallback")]
    assert not s.rules.output and not s.costs.configured
    assert s.roles == load_roles(REPO / "config" / "roles.yaml") and s.roles.identity.dev_mode
    assert "demo team" in s.sources["roles"] and "none configured" in s.sources["costs"]
    assert set_from_flow(parse_project(yaml.safe_dump(s.frozen()))) == s
    run = CliRunner()
    costs = run.invoke(cli, ["--project", str(tmp_path), "costs"])
    assert costs.exit_code == 0 and "No costs are configured" in costs.output, costs.output
    for extra in ([], ["--dry-run"], ["--allow-dev-mode"]):
        out = run.invoke(cli, ["--project", str(tmp_path), "deploy", "aws", *extra])
        assert out.exit_code != 0 and "no roles file" in out.output, out.output


def test_the_frozen_set_needs_no_file_to_be_read_again(tmp_path: Path) -> None:
    from shared.config import load_project_set, parse_project, set_from_flow
    from tests.conftest import write_project

    s = load_project_set(write_project(tmp_path))
    for name in ("rules.yaml", "roles.yaml", "costs.yaml", "project.yaml"):
        (tmp_path / name).unlink()
    again = set_from_flow(parse_project(yaml.safe_dump(s.frozen())))
    assert again == s
