"""The one step model: the engine's fast path, the detailed step and speculative decoding agree
wherever the deployment puts its data."""
import pytest

from hwsim.loading import catalog
from hwsim.perf.offload import TierStep
from hwsim.perf.step import StepCost
from hwsim.perf.step_model import StepModel, _busy_sum
from hwsim.specs.deployment import Deployment, ExpertSetup, Precision
from hwsim.specs.placement import parse
from hwsim.specs.shape import AttnGroup, StepShape
from hwsim.specs.techniques import Speculative, Techniques

LLAMA = catalog.model("llama-3-8b")
H100 = catalog.system("h100-sxm")
DRAFT = catalog.model("llama-3.2-1b")
MIXTRAL = catalog.model("mixtral-8x7b")
MIXED = (AttnGroup(1, 512, 512), AttnGroup(7, 1, 900), AttnGroup(3, 1, 40))


def test_the_engine_fast_path_equals_the_operator_level_step():
    model = StepModel(Deployment(LLAMA, H100))
    time_s, compute_s, memory_s = model.step(MIXED)
    detailed = model.cost(StepShape(MIXED))
    assert isinstance(detailed, StepCost)
    assert time_s == pytest.approx(detailed.time_s, rel=1e-12)
    assert (compute_s, memory_s) == pytest.approx(detailed.busy_s(), rel=1e-12)


def test_a_speculative_decode_step_is_draft_steps_plus_one_verification_per_yielded_token():
    spec = Speculative(DRAFT, draft_length=4, acceptance=0.7)
    model = StepModel(Deployment(LLAMA, H100, techniques=Techniques(speculative=spec)))
    decode = (AttnGroup(8, 1, 1000),)
    verify = StepModel(Deployment(LLAMA, H100)).step_s((AttnGroup(8, 5, 1004),))
    draft = StepModel(Deployment(DRAFT, H100)).step_s(decode)
    expected = (verify + 4 * draft) / spec.tokens_per_step
    assert model.step_s(decode) == pytest.approx(expected, rel=1e-12)
    assert model.cost(StepShape(decode)).time_s == pytest.approx(expected, rel=1e-12)
    assert model.step_s(MIXED) == StepModel(Deployment(LLAMA, H100)).step_s(MIXED)  # prefill is not speculative


def test_an_offloaded_step_is_the_tier_step_and_the_device_works_only_its_share():
    deployment = Deployment(LLAMA, H100, Precision(), placement=parse("weights=device:0.5,host:0.5"))
    model = StepModel(deployment)
    shape = StepShape.decode(4, 700)
    tiered = model.cost(shape)
    assert isinstance(tiered, TierStep)
    time_s, compute_s, memory_s = model.step(shape.groups)
    assert time_s == tiered.time_s and compute_s == memory_s == tiered.device_busy_s
    assert tiered.device_busy_s < tiered.time_s  # it waits on host-to-device weight copies
    on_device = StepModel(Deployment(LLAMA, H100)).cost(shape)
    assert tiered.device_busy_s == pytest.approx(on_device.time_s, rel=0.05)


def test_speculative_decoding_applies_to_offloaded_deployments_too():
    where = parse("weights=device:0.5,host:0.5")
    plain = StepModel(Deployment(LLAMA, H100, placement=where))
    spec = Speculative(DRAFT, draft_length=4, acceptance=0.9)
    fast = StepModel(Deployment(LLAMA, H100, placement=where, techniques=Techniques(speculative=spec)))
    decode = StepShape.decode(1, 500)
    # weight streaming dominates, and one verification of 5 tokens streams the weights once
    assert fast.cost(decode).time_s < 0.5 * plain.cost(decode).time_s


def test_active_experts_given_ahead_override_the_routing():
    fixed = StepModel(Deployment(MIXTRAL, catalog.system("h200-sxm")), active_experts=2.0).cost(StepShape.decode(8, 100))
    expected = StepModel(Deployment(MIXTRAL, catalog.system("h200-sxm"))).cost(StepShape.decode(8, 100))
    assert fixed.time_s < expected.time_s  # 2 experts instead of the ~7.2 uniform routing expects


def test_a_decode_run_prices_each_step_as_step_would():
    from hwsim.loading import catalog as _catalog
    from hwsim.perf.step_model import StepModel as _StepModel
    from hwsim.specs.deployment import Deployment as _Deployment
    from hwsim.specs.shape import AttnGroup as _AttnGroup

    model = _StepModel(_Deployment(_catalog.model("llama-3-8b"), _catalog.system("h100-sxm")))
    groups = (_AttnGroup(48, 1, 700.5), _AttnGroup(16, 1, 1))  # 48 decodes and 16 graph padding slots
    run = model.decode_run(groups)
    priced = run.busy(0, 1) + run.busy(1, 2) + run.busy(3, 40) + run.busy(43, 257)  # stretch by stretch, as the engine asks
    assert len(priced) == 300
    for step in (0, 1, 2, 3, 4, 42, 43, 150, 299):
        expected = model.step((_AttnGroup(48, 1, 700.5 + step), _AttnGroup(16, 1, 1)))
        assert priced[step] == pytest.approx(expected, rel=1e-12)
    at_once = model.decode_run(groups).busy(0, 300)  # in one stretch
    assert [x for step in at_once for x in step] == pytest.approx([x for step in priced for x in step], rel=1e-12)


@pytest.mark.parametrize("model, hardware, count, dtype, experts", [
    ("llama-3-8b", "h100-sxm", 1, "bf16", None),
    ("mixtral-8x7b", "h100-sxm", 2, "fp8", None),
    ("deepseek-v3", "h200-sxm", 8, "fp8", ExpertSetup(attention_dp=True)),
    ("deepseek-v3", "h200-sxm", 8, "fp8", ExpertSetup(expert_parallel=True, capacity_factor=1.25)),
])
def test_the_dense_part_memoized_by_tokens_and_by_sequences_equals_the_whole_step(model, hardware, count, dtype,
                                                                                  experts):
    timer = StepModel(Deployment(catalog.model(model), catalog.system(hardware, count), Precision(dtype),
                                 experts=experts))
    for tokens, sequences in [(1, 1), (7, 2), (64, 64), (513, 5), (2048, 256), (8192, 64)]:
        whole = _busy_sum(timer._dense_ops(tokens, sequences))
        assert timer._dense_uncached(tokens, sequences) == pytest.approx(whole, rel=1e-12)


def test_a_decode_run_with_a_technique_prices_every_step_as_step_does():
    spec = Speculative(DRAFT, draft_length=4, acceptance=0.7)
    model = StepModel(Deployment(LLAMA, H100, techniques=Techniques(speculative=spec)))
    run = model.decode_run((AttnGroup(8, 1, 300.0),))
    assert run.busy(5, 3) == [model.step((AttnGroup(8, 1, 300.0 + step),)) for step in (5, 6, 7)]
