"""Input descriptions: the --input-size grammar, --inputs factories, and the tensors they make."""

import dataclasses
import sys
import types

import pytest
import torch
from torch import nn

from netprobe.errors import NetprobeError
from netprobe.inputs import Factory, Input, describe, parse_input_size, parse_inputs, parse_inputs_ref
from netprobe.inputs_torch import example_inputs, vocabulary
from netprobe.refs import parse_ref


@pytest.mark.parametrize("text, expected", [
    ("3x224x224", (Input((3, 224, 224)),)),
    ("224x320", (Input((3, 224, 320)),)),                 # HxW: one 3-channel image, as before
    ("1x224x320", (Input((1, 224, 320)),)),
    ("3x16x112x112", (Input((3, 16, 112, 112)),)),
    ("3x64x64,12", (Input((3, 64, 64)), Input((12,)))),
    ("int64:128", (Input((128,), "int64"),)),
    ("bool:1x32x32", (Input((1, 32, 32), "bool"),)),
    (" 3 × 8 × 8 , long:4 ", (Input((3, 8, 8)), Input((4,), "int64"))),
    ("float32:16x32", (Input((16, 32)),)),                # a dtype makes the shape literal
    ("3x8x8,16x32", (Input((3, 8, 8)), Input((16, 32)))),  # so does a second input
])
def test_input_size_text(text, expected):
    assert parse_input_size(text) == expected


@pytest.mark.parametrize("value, expected", [
    ((3, 32, 32), (Input((3, 32, 32)),)),
    ((32, 48), (Input((3, 32, 48)),)),
    ([(3, 64, 64), (12,)], (Input((3, 64, 64)), Input((12,)))),
    ([(3, 8, 8), "int64:5"], (Input((3, 8, 8)), Input((5,), "int64"))),
    (None, None),
])
def test_input_size_python(value, expected):
    assert parse_input_size(value) == expected


@pytest.mark.parametrize("text, says", [
    ("3x", "every dimension must be a number"),
    ("float99:3x8", "unknown dtype 'float99'"),
    ("3x0x8", "dimension 0"),
    ("int64:", "no shape after 'int64:'"),
    ("3x8x8,,4", "input 2 of '3x8x8,,4' is empty"),
    ("", "is empty"),
    ("3x8x8,", "input 2"),
    ("axb", "every dimension must be a number"),
])
def test_bad_descriptions_are_one_line(text, says):
    with pytest.raises(NetprobeError) as e:
        parse_input_size(text)
    message = str(e.value)
    assert says in message and "\n" not in message
    assert "such as" in message or "use one of" in message or "positive integer" in message


@pytest.mark.parametrize("value", [(3, 0, 8), (3, True, 8), "x", [(3, 8), 4], [], 3.0])
def test_bad_python_sizes(value):
    with pytest.raises(NetprobeError):
        parse_input_size(value)


def test_describe_round_trips():
    text = "3x64x64,int64:12,bool:1x4x4"
    assert parse_input_size(describe(parse_input_size(text))) == parse_input_size(text)


def test_refs_with_literal_keywords():
    ref = parse_ref("pkg.mod:Builder.make(channels=64, name='x', sizes=(1, 2))")
    assert (ref.module, ref.attr, dict(ref.kwargs)) == ("pkg.mod", "Builder.make",
                                                       {"channels": 64, "name": "x", "sizes": (1, 2)})
    assert parse_ref(ref.text) == ref
    assert parse_ref("pkg:f") == parse_ref("pkg:f()")


@pytest.mark.parametrize("text, says", [
    ("nocolon", "not an import path"),
    ("pkg:", "not an import path"),
    ("pkg:f(3)", "by keyword"),
    ("pkg:f(**k)", "by keyword"),
    ("pkg:f(x=open('y'))", "must be literals"),
    ("pkg:f(x=", "cannot read"),
    ("pkg:1+2", "not a name"),
])
def test_bad_refs(text, says):
    with pytest.raises(NetprobeError, match=says.replace("(", r"\(")):
        parse_ref(text)


class Tokens(nn.Module):
    """Token ids through an embedding, a mask by keyword."""

    def __init__(self, vocab=50):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.kinds = nn.Embedding(vocab + 10, 8)

    def forward(self, ids, mask=None):
        x = self.embed(ids) + self.kinds(ids)
        return x if mask is None else x * mask[..., None]


def test_shapes_get_the_batch_first_and_valid_values():
    model = Tokens(vocab=7)
    (image, ids, mask), kwargs = example_inputs(parse_input_size("3x8x8,int64:16,bool:16"), 4, "cpu", model)
    assert kwargs == {}
    assert image.shape == (4, 3, 8, 8) and image.dtype == torch.float32
    assert ids.shape == (4, 16) and ids.dtype == torch.int64 and 0 <= ids.min() and ids.max() < 7
    assert mask.shape == (4, 16) and mask.dtype == torch.bool and bool(mask.all())
    model(ids, mask=mask)  # ids in range of every table
    assert vocabulary(model) == 7 and vocabulary(nn.Linear(2, 2)) is None


def test_integers_without_an_embedding_are_small():
    (ids,), _ = example_inputs("int32:1000", 2, "cpu", nn.Linear(2, 2))
    assert ids.dtype == torch.int32 and 0 <= ids.min() and ids.max() < 2


def test_meta_allocates_nothing():
    (x, ids), _ = example_inputs("3x16x112x112,int64:9", 2, "meta")
    assert x.is_meta and ids.is_meta and x.shape == (2, 3, 16, 112, 112) and ids.dtype == torch.int64


def test_listed_inputs_are_a_list_per_batch():
    (images,), _ = example_inputs((Input((3, 8, 8), listed=True),), 3, "cpu")
    assert isinstance(images, list) and [tuple(t.shape) for t in images] == [(3, 8, 8)] * 3


@pytest.fixture
def factories(monkeypatch):
    mod = types.ModuleType("np_test_factories")

    def by_batch(batch):
        return torch.zeros(batch, 3, 4, 4)

    def by_keyword(seq=4, batch_size=1):
        return (torch.zeros(batch_size, seq, dtype=torch.long),), {"mask": torch.ones(batch_size, seq)}

    mod.by_batch = by_batch
    mod.by_keyword = by_keyword
    mod.fixed = lambda: (torch.zeros(1, 2), torch.zeros(1, 3))
    mod.raises = lambda: 1 / 0
    mod.number = lambda: 3
    mod.empty = lambda: ((), {})
    monkeypatch.setitem(sys.modules, "np_test_factories", mod)
    return mod


@pytest.mark.parametrize("batch", [1, 8])
def test_factory_gets_the_batch(factories, batch):
    (x,), kwargs = example_inputs(parse_inputs_ref("np_test_factories:by_batch"), batch, "cpu")
    assert x.shape == (batch, 3, 4, 4) and kwargs == {}
    (ids,), kwargs = example_inputs(parse_inputs_ref("np_test_factories:by_keyword(seq=6)"), batch, "meta")
    assert ids.shape == (batch, 6) and ids.is_meta and kwargs["mask"].is_meta


def test_factory_without_a_batch_and_ready_tensors(factories):
    args, kwargs = example_inputs(parse_inputs(inputs="np_test_factories:fixed"), 64, "cpu")
    assert [tuple(a.shape) for a in args] == [(1, 2), (1, 3)] and kwargs == {}
    args, kwargs = example_inputs(factories.by_batch, 2, "cpu")  # a callable from Python
    assert args[0].shape == (2, 3, 4, 4)
    ready = torch.zeros(5, 2)
    assert example_inputs(ready, 1, "meta")[0][0].is_meta
    args, kwargs = example_inputs(((ready,), {"mask": ready}), 1, "cpu")
    assert args[0] is ready and kwargs["mask"] is ready


@pytest.mark.parametrize("name, says", [
    ("raises", "np_test_factories:raises raised ZeroDivisionError"),
    ("number", "returned int; it must return a tensor, a tuple of args, or (args, kwargs)"),
    ("empty", "returned tuple with no tensor in it"),
    ("missing", "has no attribute 'missing'"),
])
def test_bad_factories_name_the_callable(factories, name, says):
    with pytest.raises(NetprobeError, match=says.replace("(", r"\(").replace(")", r"\)")):
        example_inputs(Factory(parse_ref(f"np_test_factories:{name}")), 2, "cpu")


def test_one_description_not_two():
    with pytest.raises(NetprobeError, match="not both"):
        parse_inputs("3x8x8", "np_test_factories:fixed")
    assert parse_inputs(None, None) is None


def test_inputs_module_imports_no_torch():
    import subprocess

    code = "import sys, netprobe.inputs; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_input_is_frozen_data():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Input((3,)).dtype = "int64"


def test_a_rejected_input_names_the_inputs_and_the_model_error():
    from netprobe.inputs import rejected

    error = rejected("mymod:Net", parse_input_size("3x8x8,int64:4"), RuntimeError("Expected 4D input\nmore"))
    assert str(error) == ("mymod:Net rejected inputs 3x8x8,int64:4: RuntimeError: Expected 4D input; "
                          "check --input-size (shapes without the batch) or --inputs")
    assert "the inputs given" in str(rejected("m", (torch.zeros(1),), ValueError("no")))


def test_a_description_parsed_twice_stays_what_it_was():
    # a 2-D float input written with its dtype is not the legacy HxW image, and handing the parsed
    # description on (summary -> training counts -> the counting pass) must not turn it into one
    once = parse_input_size("float32:5x8")
    assert once == parse_input_size(once) == parse_input_size(list(once)) and once[0].shape == (5, 8)
    assert parse_input_size("5x8")[0].shape == (3, 5, 8)  # the bare HxW rule itself is unchanged
