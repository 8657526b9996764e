"""Scenarios the serving tests share: Llama-3-8B on one H100, no host overheads unless asked."""
from hwsim.loading import catalog
from hwsim.specs import deployment
from hwsim.specs.scenario import EngineConfig, Scenario
from hwsim.specs.workload import Lengths, Workload

LLAMA = catalog.model("llama-3-8b")
H100 = catalog.system("h100-sxm")
NO_OVERHEAD = EngineConfig(step_overhead_s=0.0, request_overhead_s=0.0)


def scenario(workload, engine=NO_OVERHEAD, system=H100, model=LLAMA, **kwargs) -> Scenario:
    return Scenario("test", system, model, deployment.Precision(), workload, engine=engine, **kwargs)


def fixed(arrival="poisson", count=200, prompt=512, output=64, **kwargs) -> Workload:
    return Workload("w", arrival, count=count, prompt=Lengths("fixed", prompt), output=Lengths("fixed", output),
                    seed=3, **kwargs)
