"""Text the CLI prints: SLO phrases, plan rows, and model profiles that read back unchanged."""
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from hwsim.loading import catalog
from hwsim.loading.fields import Fields
from hwsim.loading.model_yaml import load_model
from hwsim.output import tables
from hwsim.specs.plan import PlanSlo


def test_slo_text_names_each_target_given_at_its_percentile():
    slo = PlanSlo(ttft_s=1.5, tpot_s=0.05, percentile=90, min_output_tokens_per_s=1234.0)
    assert tables.slo_text(slo) == "TTFT p90 <= 1,500 ms, TPOT p90 <= 50 ms, >= 1,234 output tokens/s"
    assert tables.slo_text(PlanSlo(tpot_s=0.02)) == "TPOT p99 <= 20 ms"


def test_plan_table_shows_costs_latencies_and_the_verdict_or_why_a_candidate_was_pruned():
    frame = pd.DataFrame([
        {"candidate": "1x1 l4 bf16", "status": "pruned", "reasons": "does not fit"},
        {"candidate": "1x1 h100-sxm bf16", "status": "simulated", "usd_per_hour": 4.0,
         "usd_per_1m_output_tokens": 1.25, "ttft_p99_s": 0.25, "tpot_p99_s": 0.0125, "passes": True,
         "reasons": "meets every SLO"},
    ])
    header, pruned, simulated = tables.plan_table(frame, 99).splitlines()
    assert header.split() == ["candidate", "$/h", "$/1M", "out", "TTFT", "p99", "TPOT", "p99", "outcome"]
    assert pruned == "  " + "1x1 l4 bf16".ljust(52) + "       -         -          -          -  pruned: does not fit"
    assert simulated == ("  " + "1x1 h100-sxm bf16".ljust(52)
                         + "    4.00     1.250      250ms     12.5ms  PASS: meets every SLO")


@pytest.mark.parametrize("model_id", ["llama-3-8b", "mixtral-8x7b", "deepseek-v3", "opt-13b"])
def test_a_written_profile_reads_back_as_the_same_model(model_id):
    model = catalog.model(model_id)
    text = tables.model_yaml(model, "copy")
    again = load_model(Fields(yaml.safe_load(text), "copy.yaml"))
    assert again == replace(model, id="copy", published_parameters=None, published_active_parameters=None)
