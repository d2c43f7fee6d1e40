from pathlib import Path

import pytest
import yaml

from shared.config import ConfigError, load_project, load_roles, parse_project

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
    with pytest.raises(RenkeiFlowError, match="config/project.yaml: field 'task'"):
        parse_project(
            (REPO / "config" / "project.yaml").read_text().replace("task: regression", "task: x")
        )


def test_config_hash_changes_with_settings(tmp_path: Path) -> None:
    a = load_project(REPO / "config" / "project.yaml")
    b = load_project(_broken(tmp_path, lambda d: d["validation"].update(min_valid_fraction=0.5)))
    assert a.config_hash() != b.config_hash()
    assert a.config_hash() == load_project(REPO / "config" / "project.yaml").config_hash()
