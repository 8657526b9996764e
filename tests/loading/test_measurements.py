"""The measurement schema: rows kept as text, typed on demand, so a bad cell spoils only its row."""
import pytest

from hwsim.base.errors import InputError
from hwsim.loading import measurements
from hwsim.loading.measurements import Row, RowError
from hwsim.studies import validate


def a_row(**cells) -> Row:
    return Row(cells, "rows.csv")


def test_unreadable_file_is_an_input_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("not,the,schema\n1,2,3\n")
    with pytest.raises(Exception, match="required column missing"):
        validate.validate([str(path)])


def test_a_missing_file_is_named():
    with pytest.raises(InputError, match="nowhere.csv: file not found"):
        measurements.read("nowhere.csv")


def test_cells_are_stripped_text_and_extra_columns_are_kept_but_not_required(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,kind,metric,value,notes\n g-1 , gemm ,seconds, 1e-3 ,anything\n")
    (row,) = measurements.read(path)
    assert (row.id, row.kind, row.metric) == ("g-1", "gemm", "seconds")
    assert row.number("value") == 1e-3 and row.text("notes") == "anything"
    assert row.source == str(path)


def test_empty_cells_take_the_default_or_name_the_column():
    row = a_row(batch="", launch="")
    assert row.integer("batch", 1) == 1 and row.text("launch", "graph") == "graph" and row.flag("overlap", True)
    with pytest.raises(RowError, match="^column batch is empty$"):
        row.integer("batch")


@pytest.mark.parametrize("read, expected", [
    (lambda row: row.number("m"), "column m: expected a number, got 'lots'"),
    (lambda row: row.number("k"), "column k: expected a number, got 'nan'"),
    (lambda row: row.integer("n"), "column n: expected a whole number of at least 1, got 2.5"),
    (lambda row: row.integer("batch"), "column batch: expected a whole number of at least 1, got 0"),
    (lambda row: row.flag("overlap", True), "column overlap: expected true or false, got 'maybe'"),
])
def test_a_bad_cell_says_which_column_and_what_it_holds(read, expected):
    row = a_row(m="lots", k="nan", n="2.5", batch="0", overlap="maybe")
    with pytest.raises(RowError) as error:
        read(row)
    assert str(error.value) == expected


def test_flags_read_true_false_yes_no_and_digits():
    assert [a_row(o=v).flag("o", False) for v in ("true", "Yes", "1")] == [True, True, True]
    assert [a_row(o=v).flag("o", True) for v in ("false", "NO", "0")] == [False, False, False]
    assert a_row(context_len="0").integer("context_len", minimum=0) == 0
