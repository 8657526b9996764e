"""The command lines whose outputs are kept as golden files: every kind of prediction the CLI makes.

Each case is a name and the argv after `hwsim`; `{out}` stands for a JSON file the case writes.
`python tests/golden/capture.py` records them; `tests/test_golden.py` checks they still hold.
"""

ESTIMATE = ["estimate", "--ops", "both", "--json", "{out}"]

CASES: dict[str, list[str]] = {
    "estimate-llama3-8b-h100": ESTIMATE + ["--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "8",
                                           "--prompt-tokens", "512", "--output-tokens", "128"],
    "estimate-70b-h200-tp8-eager-unfused": ESTIMATE + [
        "--hardware", "h200-sxm", "--count", "8", "--model", "llama-3-70b", "--dtype", "fp8", "--batch", "32",
        "--prompt-tokens", "2048", "--output-tokens", "256", "--launch", "eager", "--kernels", "unfused"],
    "estimate-math-attention-prefill": ESTIMATE + ["--hardware", "h200-sxm", "--model", "llama-3-8b", "--batch", "2",
                                                   "--prompt-tokens", "2048", "--output-tokens", "8", "--launch", "eager",
                                                   "--kernels", "unfused-math"],
    "speedup-int4-json": ["speedup", "validation/pairs/int4/before.csv", "--after", "validation/pairs/int4/after.csv",
                          "--json", "{out}"],
    "estimate-int4-weight-bits": ESTIMATE + ["--hardware", "rtx-4090", "--model", "mistral-7b", "--dtype", "int4",
                                             "--weight-bits", "4.85", "--kv-dtype", "fp8", "--batch", "4"],
    "estimate-owned-pricing": ESTIMATE + ["--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "64",
                                          "--prompt-tokens", "512", "--output-tokens", "256", "--pricing", "owned-2026"],
    "estimate-flexgen-offload": ESTIMATE + [
        "--hardware", "flexgen-t4", "--model", "opt-30b", "--dtype", "fp16", "--batch", "144", "--prompt-tokens", "512",
        "--output-tokens", "32", "--placement", "weights=device:0.2,host:0.8;kv=host;act=host"],
    "estimate-offload-no-overlap-pageable-chunked": ESTIMATE + [
        "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16", "--batch", "16", "--prompt-tokens", "256",
        "--output-tokens", "16", "--placement", "weights=device:0.3,host:0.5,disk:0.2", "--no-overlap", "--pageable"],
    "estimate-instinfer-kv-host": ESTIMATE + ["--hardware", "instinfer-a6000", "--model", "llama-2-13b",
                                              "--batch", "64", "--prompt-tokens", "1024", "--output-tokens", "256",
                                              "--placement", "kv=host"],
    "estimate-instinfer-kv-disk": ESTIMATE + ["--hardware", "instinfer-a6000", "--model", "llama-2-13b",
                                              "--batch", "64", "--prompt-tokens", "1024", "--output-tokens", "256",
                                              "--placement", "kv=disk"],
    "estimate-instinfer-in-storage": ESTIMATE + ["--hardware", "instinfer-a6000", "--model", "llama-2-13b",
                                                 "--batch", "64", "--prompt-tokens", "1024", "--output-tokens", "256",
                                                 "--placement", "kv=disk;attention_compute=storage"],
    "estimate-instinfer-gpudirect": ESTIMATE + ["--hardware", "instinfer-a6000", "--model", "llama-2-13b",
                                                "--batch", "8", "--prompt-tokens", "1024", "--output-tokens", "64",
                                                "--placement", "weights=device:0.5,disk:0.5", "--gpudirect"],
    "estimate-gh200-host-weights": ESTIMATE + ["--hardware", "gh200", "--model", "llama-3-70b", "--batch", "16",
                                               "--placement", "weights=device:0.5,host:0.5"],
    "estimate-lamina-remote-attention": ESTIMATE + ["--hardware", "lamina-h100-h20", "--model", "llama-3-8b",
                                                    "--batch", "64", "--prompt-tokens", "2048", "--output-tokens", "128",
                                                    "--placement", "kv=remote;attention_compute=remote"],
    "estimate-mixtral-ep-zipf": ESTIMATE + ["--hardware", "h100-sxm", "--count", "2", "--model", "mixtral-8x7b",
                                            "--expert-parallel", "--routing", "zipf:1.2", "--batch", "16"],
    "estimate-mixtral-host-experts-lru": ESTIMATE + [
        "--hardware", "h200-sxm", "--model", "mixtral-8x7b", "--routing", "zipf:1.2", "--batch", "4",
        "--placement", "experts=device:0.75,host:0.25", "--expert-cache", "lru", "--prefetch-experts", "1"],
    "estimate-mixtral-cpu-experts": ESTIMATE + [
        "--hardware", "h200-sxm", "--model", "mixtral-8x7b", "--batch", "2",
        "--placement", "experts=device:0.5,host:0.5;experts_compute=host"],
    "estimate-deepseek-v3-fp8-tp8": ESTIMATE + ["--hardware", "h200-sxm", "--count", "8", "--model", "deepseek-v3",
                                                "--dtype", "fp8", "--batch", "32", "--prompt-tokens", "1024"],
    "estimate-cpu-only": ESTIMATE + ["--hardware", "ryzen-7950x", "--model", "llama-3.2-1b", "--batch", "1",
                                     "--prompt-tokens", "128", "--output-tokens", "16"],
    "estimate-apple-unified": ESTIMATE + ["--hardware", "m1-max-laptop", "--model", "llama-3-8b", "--dtype", "fp16",
                                          "--batch", "1", "--prompt-tokens", "256", "--output-tokens", "32"],
    "flash-opt-6.7b": ["flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--dtype", "fp32"],
    "offload-plan-opt-30b": ["offload-plan", "--hardware", "flexgen-t4", "--model", "opt-30b", "--dtype", "fp16",
                             "--prompt-tokens", "512", "--output-tokens", "32", "--show", "4"],
    "moe-plan-mixtral": ["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--routing", "zipf:1.2",
                         "--batch", "4"],
    "moe-plan-deepseek": ["moe-plan", "--hardware", "h200-sxm", "--count", "8", "--model", "deepseek-v3",
                          "--dtype", "fp8", "--routing", "zipf:1.0", "--batch", "64", "--budget", "60 GB"],
    "simulate-readme-chat": ["simulate", "workloads/scenarios/llama3-8b-h100-chat.yaml", "--json", "{out}"],
    "plan-tiny": ["plan", "tests/golden/tiny-plan.yaml", "--workers", "1", "--json", "{out}"],
    "validate-measurements": ["validate", "validation/h200-sxm.csv", "validation/published.csv",
                              "validation/trtllm-perf-overview-v1.0.csv", "--json", "{out}"],
    "validate-launch-speedup": ["validate", "--baseline", "validation/pairs/launch/eager.csv", "--after",
                                "validation/pairs/launch/graph.csv"],
    "validate-int4-pair": ["validate", "--baseline", "validation/pairs/int4/before.csv", "--after",
                           "validation/pairs/int4/after.csv"],
}

SCENARIOS = ["swap-under-load", "speculative-int4", "replicas-tp", "disaggregated", "offloaded", "moe-ep",
             "moe-host-experts"]
for _name in SCENARIOS:
    CASES[f"simulate-{_name}"] = ["simulate", f"tests/golden/scenarios/{_name}.yaml", "--json", "{out}"]
