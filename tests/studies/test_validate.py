"""`hwsim validate`: reads the measurement schema, predicts what it can, reports the rest."""
import json

from hwsim.studies import validate


def test_every_row_gets_a_prediction_or_a_reason(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    assert list(rows["id"]) == ["g-1", "a-1", "c-1", "s-1", "bad-kind", "bad-hw", "bad-cell", "bad-model", "bad-dtype"]
    good = rows[rows["id"].isin(["g-1", "a-1", "c-1", "s-1"])]
    assert good["predicted"].notna().all()
    assert (good["ape"] < 0.2).all()
    reasons = dict(zip(rows["id"], rows["reason"], strict=True))
    assert "unknown kind 'telepathy'" in reasons["bad-kind"]
    assert "h900-sxm" in reasons["bad-hw"] and "h200-sxm" in reasons["bad-hw"]
    assert "column m" in reasons["bad-cell"] and "'lots'" in reasons["bad-cell"]
    assert "llama-9-1b" in reasons["bad-model"]
    assert "fp6" in reasons["bad-dtype"]


def test_summary_per_kind(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    summary = validate.summarize(rows).set_index("kind")
    assert summary.loc["gemm", "rows"] == 4 and summary.loc["gemm", "predicted"] == 1
    assert summary.loc["step", "worst"] == "s-1"
    assert summary.loc["telepathy", "predicted"] == 0


def test_json_document_has_the_agreed_shape(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    document = json.loads(json.dumps(validate.to_json(rows, validate.summarize(rows))))
    first = document["rows"][0]
    # a predicted row carries its regime and the 90% interval of the band fitted for it (or a parent)
    assert set(first) == {"id", "kind", "metric", "measured", "predicted", "ape", "regime", "interval_regime",
                          "predicted_low", "predicted_high"}
    unpredicted = next(r for r in document["rows"] if r["id"] == "bad-kind")
    assert unpredicted["predicted"] is None and "reason" in unpredicted
    assert document["summary"]["overall"]["predicted"] == 4


def test_a_serving_row_whose_engine_has_no_profile_is_predicted_and_says_so(tmp_path):
    path = tmp_path / "rows.csv"
    header = "id,kind,hardware,model,dtype,requests,input_len,output_len,request_rate,engine,metric,value"
    path.write_text(f"{header}\n"
                    "a,serving,h100-sxm,llama-3-8b,bf16,20,128,32,inf,my-engine-2.0,output_tokens_per_s,1000\n"
                    "b,serving,h100-sxm,llama-3-8b,bf16,20,128,32,inf,vllm-0.8.5,output_tokens_per_s,1000\n")
    rows = validate.validate([str(path)]).set_index("id")
    assert rows.loc["a", "predicted"] > 0 and "engine 'my-engine-2.0' has no profile near it" in rows.loc["a", "note"]
    assert rows.loc["b", "predicted"] > 0 and rows.loc["b", "note"] == ""
