"""Rows that cannot be judged are flagged with a reason and the run goes on: duplicate ids, absurd
shapes; calibration ignores rows validate refuses; and absurd requests to the studies are refused."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.flash import flash_token
from hwsim.specs.deployment import Precision
from hwsim.studies import expert_plan, validate
from hwsim.studies.calibrate import fitted_rows
from hwsim.studies.validate import format_rows

HEADER = "id,kind,hardware,dtype,m,n,k,metric,value\n"


def test_a_duplicate_id_is_flagged_and_not_counted_twice(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + "g1,gemm,h200-sxm,bf16,1,4096,4096,seconds,1e-5\n"
                             "g1,gemm,h200-sxm,bf16,2,4096,4096,seconds,1e-5\n")
    rows = validate.validate([str(path)])
    assert rows["predicted"].notna().tolist() == [True, False]
    assert rows["reason"].iloc[1].startswith("duplicate id: g1 is already a row of")


def test_an_absurd_error_prints_in_a_few_digits(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + "g1,gemm,h200-sxm,bf16,1e30,4096,4096,seconds,1e-5\n")
    line = format_rows(validate.validate([str(path)])).splitlines()[1]
    assert line.endswith("%") and len(line.split()[-1]) <= 10


def test_calibration_ignores_rows_validate_refuses(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + "g1,gemm,h200-sxm,bf16,1,4096,4096,seconds,-1e-5\n"
                             "g2,gemm,h200-sxm,bf16,4,4096,4096,seconds,2e-5\n")
    assert [row.id for row in fitted_rows([str(path)], "h200-sxm")] == ["g2"]


def test_flash_refuses_a_model_whose_resident_part_outgrows_dram():
    with pytest.raises(HwsimError, match="resident in DRAM"):
        flash_token(catalog.model("opt-175b"), catalog.system("m1-max-laptop"), 512, Precision("fp16"))


@pytest.mark.parametrize("budget", [-5e9, 1e21])
def test_an_expert_budget_must_fit_one_device(budget):
    model = catalog.model("mixtral-8x7b")
    with pytest.raises(HwsimError, match="expected more than 0 and at most one device"):
        expert_plan.plan(model, catalog.system("h100-sxm"), None, Precision(), 4, 512, 128, budget)
