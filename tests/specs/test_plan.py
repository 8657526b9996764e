"""Plan candidates as data: how each is named in the tables and how many devices it takes."""
from hwsim.specs.plan import Candidate, PlanSlo


def test_a_candidate_is_named_by_its_layout_device_formats_and_batch_limits():
    plain = Candidate("h100-sxm", 2, 3, "bf16", None, 256, 8192)
    assert plain.describe() == "3x2 h100-sxm bf16, seqs 256, tokens 8192"
    assert plain.devices == 6


def test_a_kv_format_and_an_offloaded_placement_are_named_only_when_given():
    offloaded = Candidate("l4", 1, 1, "fp8", "fp8", 64, 2048, placement="kv=host")
    assert offloaded.describe() == "1x1 l4 fp8/fp8 KV, seqs 64, tokens 2048, kv=host"


def test_slos_are_judged_at_the_99th_percentile_unless_told():
    slo = PlanSlo(tpot_s=0.05)
    assert (slo.percentile, slo.ttft_s, slo.min_output_tokens_per_s) == (99, None, None)
