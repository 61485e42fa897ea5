"""The strategy registry is the one list of strategies: the schema, the classes and the rules agree."""

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from drscale.registry import REGISTRY, SECTION_OPTIONS, baseline_strategies, pareto_strategies
from drscale.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]


def test_the_schema_enum_lists_exactly_the_registry():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["strategies"]["items"]["enum"] == list(REGISTRY)


def test_every_entry_has_its_class_sections_and_a_role():
    assert set(STRATEGIES) == set(REGISTRY)
    for name, spec in REGISTRY.items():
        assert STRATEGIES[name].__name__ == spec.cls
        assert set(spec.sections) <= set(SECTION_OPTIONS)
        assert not (spec.baseline and spec.pareto), name
    assert baseline_strategies() == ["standard", "hard_negative", "denoising", "adversarial"]
    assert pareto_strategies() == ["pareto", "pareto_mgda"]
    # Pareto strategies take their weight from a controller, never the adversarial fixed weight.
    assert all("weight" not in {f.name for f in fields(STRATEGIES[n])} for n in pareto_strategies())


def test_the_registry_imports_without_torch():
    code = "import sys, drscale.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
