"""The Python API returns the objects and DataFrames the CLI prints from."""
import pandas as pd
import pytest

import hwsim


def test_the_public_names_are_listed():
    assert set(hwsim.__all__) >= {"load_scenario", "estimate", "simulate", "validate", "plan", "load_model",
                                  "load_system", "deployment"}


def test_an_estimate_from_ids_matches_the_cli_numbers():
    result = hwsim.estimate(hwsim.deployment("llama-3-8b", "h100-sxm"), batch=8, prompt=512, output=128)
    assert result.time_per_output_token_s == pytest.approx(6.672e-3, rel=1e-3)  # the README's estimate


def test_validate_returns_one_frame_row_per_measurement(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,kind,hardware,dtype,m,n,k,metric,value\ng1,gemm,h200-sxm,bf16,1,4096,4096,seconds,1e-5\n")
    rows = hwsim.validate(path)
    assert isinstance(rows, pd.DataFrame) and list(rows["id"]) == ["g1"] and rows["predicted"].iloc[0] > 0
