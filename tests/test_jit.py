"""lt.jit: the capture contract (no host reads inside, a capture per input signature, new
outputs per call), replay of the captured kernels with no graph work, results equal to the
plain function's over a training loop, and every case where it must capture again or run
the function instead of replaying."""
import gc
import re

import numpy as np
import pytest

import lazytensor as lt
import lazytensor.config as config

from helpers import DEVICES, cl_unavailable_reason, using


def devices():
    return [d for d in DEVICES if d != "cl" or cl_unavailable_reason() is None]


OPTIMIZERS = {
    "adam": lambda params: lt.optim.Adam(params, lr=0.05),
    "adamw_capturable": lambda params: lt.optim.AdamW(params, lr=0.05, capturable=True),
    "sgd_momentum": lambda params: lt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    "rmsprop_centered": lambda params: lt.optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
}


def _model_and_optimizer(seed: int, optimizer: str = "adam"):
    lt.manual_seed(seed)
    model = lt.nn.Sequential(lt.nn.Linear(6, 12), lt.nn.ReLU(), lt.nn.Linear(12, 3))
    return model, OPTIMIZERS[optimizer](model.parameters())


def _train(step, model, opt, x, y, n=6):
    return [step(model, opt, x, y) for _ in range(n)]


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = lt.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _state_tensors(opt):
    return [v for state in opt.state.values() for v in state.values() if isinstance(v, lt.Tensor)]


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("device", devices())
def test_a_jitted_training_step_matches_the_plain_one(device, optimizer):
    with using(device, True):
        # realised first, as the jit realises its arguments before each call: a plain step that
        # computes x itself is another graph, fused otherwise, and rounds otherwise
        x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
        plain_model, plain_opt = _model_and_optimizer(1, optimizer)
        jit_model, jit_opt = _model_and_optimizer(1, optimizer)
        plain = _train(_step, plain_model, plain_opt, x, y, n=8)
        jitted_step = lt.jit(_step)
        jitted = _train(jitted_step, jit_model, jit_opt, x, y, n=8)
    np.testing.assert_allclose([t.item() for t in jitted], [t.item() for t in plain], rtol=1e-6)
    for a, b in zip(jit_model.parameters(), plain_model.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-7)
        assert a.is_leaf and a.requires_grad
    for a, b in zip(_state_tensors(jit_opt), _state_tensors(plain_opt)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-8)
    assert jitted_step.captures == 1
    # Adam counting its steps in Python cannot be replayed; the others replay from the third
    # call on, or the fourth where a state buffer's layout settles only after its first update
    if optimizer == "adam":
        assert jitted_step.replays == 0
    else:
        assert jitted_step.replays >= 5


def _conv_batch_norm(momentum):
    """Two convolutions, each batch-normalised; the second norm's running statistics are
    still pending from the last step when the max pool's index check is asked. No bias before
    a norm: its gradient is rounding noise, which Adam turns into steps of the learning rate."""
    lt.manual_seed(7)
    nn = lt.nn
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4, momentum=momentum), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1, bias=False),
                          nn.BatchNorm2d(4, momentum=momentum), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
    return model, lt.optim.Adam(model.parameters(), lr=0.05, capturable=True)


def _restart(model, opt, weights):
    """Back to the first step's state in place, as a benchmark restarting a jitted step does."""
    model.load_state_dict(weights)
    with lt.no_grad():
        for value in _state_tensors(opt):
            value.zero_()


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
@pytest.mark.parametrize("device", devices())
def test_a_jitted_conv_batch_norm_step_matches_the_plain_one_across_state_resets(device, momentum):
    """The running statistics and the batch count are buffers the step updates in place; a
    replay updates them as the plain step does, also after load_state_dict or
    reset_running_stats put them back (momentum=None averages over the batch count)."""
    with using(device, True):
        x, y = lt.randn(8, 1, 6, 6).realize(), lt.randint(0, 3, (8,)).realize()
        runs = []
        for step in (_step, lt.jit(_step)):
            model, opt = _conv_batch_norm(momentum)
            weights = {k: v.clone() for k, v in model.state_dict().items()}
            losses = _train(step, model, opt, x, y, n=3)
            _restart(model, opt, weights)
            losses += _train(step, model, opt, x, y, n=3)
            model[5].reset_running_stats()
            losses += _train(step, model, opt, x, y, n=2)
            runs.append(([t.item() for t in losses], {k: v.numpy() for k, v in model.state_dict().items()}))
    (plain_losses, plain_state), (jit_losses, jit_state) = runs
    assert step.replays >= 5
    np.testing.assert_allclose(jit_losses, plain_losses, rtol=1e-6)
    np.testing.assert_allclose(jit_losses[3:6], plain_losses[:3], rtol=1e-6)  # the restart is a restart
    for k, v in plain_state.items():
        np.testing.assert_allclose(jit_state[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(jit_state["1.num_batches_tracked"]) == 5 and int(jit_state["5.num_batches_tracked"]) == 2


@pytest.mark.parametrize("device", devices())
def test_a_module_switched_to_eval_after_capture_is_not_replayed_in_training_mode(device):
    """A module's forward branches on its training flag (batch norm's statistics): a call after
    eval() or train() captures again rather than replaying the other mode's kernels."""
    with using(device, True):
        model, _ = _conv_batch_norm(0.1)
        bn, x = model[1], lt.randn(8, 1, 6, 6).realize()
        forward = lt.jit(lambda m, x: m(x))
        with lt.no_grad():
            for _ in range(3):
                forward(model, x)
            assert forward.replays == 1
            model.eval()
            before = [b.numpy() for b in bn.buffers()]
            got = [forward(model, x).numpy() for _ in range(3)]
            want = model(x).numpy()
            after = [b.numpy() for b in bn.buffers()]
            model.train()
            for _ in range(3):
                forward(model, x)
    assert forward.replays >= 3
    for out in got:
        np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)  # eval leaves the running statistics alone
    assert int(bn.num_batches_tracked) == 6


def _replaying(fn, *args, warmup: int = 2):
    """The jitted fn, called until its next call replays."""
    jitted = lt.jit(fn)
    for _ in range(warmup):
        jitted(*args)
    return jitted


def test_a_replay_builds_no_graph_and_launches_the_captured_kernels(monkeypatch):
    model, opt = _model_and_optimizer(2, "adamw_capturable")
    x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
    jitted = _replaying(_step, model, opt, x, y, warmup=3)
    assert jitted.replays == 1
    built = []
    original = lt.ir.node.new_node  # every node is made by it
    monkeypatch.setattr(lt.ir.node, "new_node", lambda *a: built.append(a[0]) or original(*a))
    lt.reset_stats()
    jitted(model, opt, x, y)
    s = lt.stats()
    assert jitted.replays == 2
    assert s.realizations == 0 and s.schedules_built == 0 and s.kernels_compiled == 0
    assert s.kernels_launched == len(jitted._entries[next(iter(jitted._entries))].program.steps) > 0
    assert set(built) <= {"buffer"}, built  # only the results' buffer nodes


def test_a_training_loop_replayed_allocates_no_new_device_memory():
    model, opt = _model_and_optimizer(3, "sgd_momentum")
    x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
    jitted = _replaying(_step, model, opt, x, y, warmup=5)
    lt.reset_stats()
    for _ in range(20):
        jitted(model, opt, x, y)
    assert lt.stats().buffers_created == 0


def _deep(x):
    """A chain deep enough to be several kernels (the depth cap), whose temporaries a replay reuses."""
    for _ in range(150):
        x = x * 1.001 + 0.5
    return x


@pytest.mark.parametrize("device", devices())
def test_a_replay_makes_buffers_for_its_results_only(device, monkeypatch):
    """Temporaries between a replay's kernels live in buffers the captured program keeps; a
    replay makes a buffer only for what it hands back. The results stay right."""
    import lazytensor.jit_program as jit_program
    with using(device, True):
        fn = _replaying(_deep, lt.zeros(64), warmup=3)  # the first replay makes the program's own buffers
        program = fn._entries[next(iter(fn._entries))].program
        assert any(step.drops for step in program.steps)  # it has temporaries
        made = []
        original = jit_program.Buffer
        monkeypatch.setattr(jit_program, "Buffer", lambda *a: made.append(a) or original(*a))
        outs = [fn(lt.full((64,), float(i))) for i in range(3)]
        assert len(made) == 3  # one result per call
        want = [_deep(lt.full((64,), float(i))).numpy() for i in range(3)]
    for out, expected in zip(outs, want):
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_temporaries_whose_launches_do_not_overlap_share_a_buffer():
    from lazytensor.jit_program import Program
    program = Program.__new__(Program)
    program.fresh = [("dev", "f32", 64)] * 3 + [("dev", "f32", 128)]
    # 0: launches 0-1, 1: 1-2, 2: 2-3 (after 0 ended), 3: 3-3 (another size)
    slots = program._arena_slots({0: (0, 1), 1: (1, 2), 2: (2, 3), 3: (3, 3)})
    assert slots[2] == slots[0] and len({slots[0], slots[1], slots[3]}) == 3


def _live(kind) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


@pytest.mark.parametrize("jitted", [False, True], ids=["plain", "jit"])
def test_a_training_loop_holds_no_more_buffers_or_nodes_after_its_first_steps(jitted):
    from lazytensor.ir.node import Node
    from lazytensor.runtime.buffer import Buffer
    model, opt = _model_and_optimizer(6, "adamw_capturable")
    x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
    step = lt.jit(_step) if jitted else _step
    for _ in range(10):
        step(model, opt, x, y)
    held = (_live(Buffer), _live(Node))
    for _ in range(40):
        step(model, opt, x, y)
    assert (_live(Buffer), _live(Node)) == held


def test_new_arguments_are_read_at_every_replay():
    fn = _replaying(lambda a, b: (a * b).sum(1), lt.ones(2, 3), lt.full((2, 3), 2.0))
    a, b = lt.randn(2, 3), lt.randn(2, 3)
    np.testing.assert_allclose(fn(a, b).numpy(), (a.numpy() * b.numpy()).sum(1), rtol=1e-6)
    assert fn.replays == 1


def test_arguments_that_shared_memory_when_captured_capture_again_when_they_do_not():
    same = lt.ones(2, 3)
    fn = _replaying(lambda a, b: a - b, same, same)
    a, b = lt.randn(2, 3), lt.randn(2, 3)
    np.testing.assert_allclose(fn(a, b).numpy(), a.numpy() - b.numpy(), rtol=1e-6)


def test_outputs_of_replays_are_not_overwritten_by_later_replays():
    fn = _replaying(lambda x: x * 2 + 1, lt.zeros(3))
    first = fn(lt.tensor([1.0, 2.0, 3.0]))
    second = fn(lt.tensor([4.0, 5.0, 6.0]))
    assert fn.replays == 2
    assert first.tolist() == [3.0, 5.0, 7.0] and second.tolist() == [9.0, 11.0, 13.0]


def test_an_argument_written_in_place_is_updated_at_every_replay():
    def bump(counter, x):
        counter.add_(x)
        return counter * 10

    counter = lt.zeros(2)
    fn = lt.jit(bump)
    outs = [fn(counter, lt.ones(2)).tolist() for _ in range(5)]
    assert fn.replays == 3
    assert outs[-1] == [50.0, 50.0] and counter.tolist() == [5.0, 5.0]


def test_a_parameter_changed_between_calls_is_read_afresh():
    layer = lt.nn.Linear(3, 2)
    fn = _replaying(lambda x: layer(x), lt.ones(1, 3))
    with lt.no_grad():
        layer.weight.mul_(0.0)
        layer.bias.fill_(4.0)
    assert fn(lt.ones(1, 3)).tolist() == [[4.0, 4.0]]
    assert fn.replays == 1


def test_a_replayed_output_has_no_autograd_history():
    w = lt.ones(3, requires_grad=True)
    fn = _replaying(lambda x: (x * w).sum(), lt.ones(3))
    out = fn(lt.ones(3))
    assert fn.replays == 1 and not out.requires_grad


def test_a_new_layout_of_an_argument_captures_again():
    fn = _replaying(lambda x: x + 1, lt.zeros(3, 3))
    transposed = lt.arange(9.0).reshape(3, 3).t()
    np.testing.assert_array_equal(fn(transposed).numpy(), transposed.numpy() + 1)


def test_a_learning_rate_changed_by_a_scheduler_is_used_by_the_next_step():
    plain_model, plain_opt = _model_and_optimizer(4, "sgd_momentum")
    jit_model, jit_opt = _model_and_optimizer(4, "sgd_momentum")
    x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
    jitted = lt.jit(_step)
    for model, opt, step in ((plain_model, plain_opt, _step), (jit_model, jit_opt, jitted)):
        scheduler = lt.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        for _ in range(9):
            step(model, opt, x, y)
            scheduler.step()
    for a, b in zip(jit_model.parameters(), plain_model.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert jitted.replays > 0


def test_a_function_drawing_random_numbers_runs_every_call(capsys):
    fn = lt.jit(lambda x: x + lt.rand(4))
    previous = config.set_debug(1)
    try:
        outs = [fn(lt.zeros(4)).tolist() for _ in range(4)]
    finally:
        config.set_debug(previous)
    assert fn.replays == 0
    assert len({tuple(o) for o in outs}) == 4  # fresh numbers every call, never a frozen draw
    assert "not replayed (it draws random numbers" in capsys.readouterr().err


def test_adam_counting_steps_in_python_says_how_to_replay(capsys):
    model, opt = _model_and_optimizer(5, "adam")
    x, y = lt.randn(16, 6).realize(), lt.randint(0, 3, (16,)).realize()
    previous = config.set_debug(1)
    try:
        _replaying(_step, model, opt, x, y)
    finally:
        config.set_debug(previous)
    assert "pass capturable=True" in capsys.readouterr().err


def test_debugging_modes_run_the_function_every_call():
    with using("numpy", False):
        fn = _replaying(lambda x: x * 3, lt.ones(2))
        assert fn(lt.ones(2)).tolist() == [3.0, 3.0]
    assert fn.replays == 0


@pytest.mark.parametrize("read, call", [
    (lambda t: t.item(), "Tensor.item()"),
    (lambda t: t.numpy(), "Tensor.numpy()"),
    (lambda t: t.tolist(), "Tensor.tolist()"),
    (lambda t: print(t), "print() or repr()"),
    (lambda t: bool(t), "bool(tensor)"),
    (lambda t: np.asarray(t), "np.asarray(tensor)"),
    (lambda t: lt.nonzero(t), "nonzero()"),
])
def test_reading_a_value_inside_a_jitted_function_raises_naming_the_call(read, call):
    def reads_inside(x):
        y = (x * 2).sum()
        read(y)
        return y

    with pytest.raises(RuntimeError, match=re.escape(f"lt.jit: {call}") + ".*'.*reads_inside'"):
        lt.jit(reads_inside)(lt.ones(3))


def test_the_guard_ends_with_the_call():
    fn = lt.jit(lambda x: x + 1)
    out = fn(lt.ones(2))
    assert out.tolist() == [2.0, 2.0]


def test_a_shape_change_captures_again_and_says_so(capsys):
    fn = lt.jit(lambda x: (x * 3).sum(0))
    previous = config.set_debug(1)
    try:
        fn(lt.ones(2, 3))
        fn(lt.ones(2, 3))
        fn(lt.ones(4, 3))
    finally:
        config.set_debug(previous)
    assert fn.captures == 2
    assert capsys.readouterr().err.count("capturing") == 2


def test_outputs_of_two_calls_are_distinct():
    fn = lt.jit(lambda x: x * 2)
    first = fn(lt.tensor([1.0, 2.0]))
    second = fn(lt.tensor([5.0, 6.0]))
    assert first is not second
    assert first.tolist() == [2.0, 4.0] and second.tolist() == [10.0, 12.0]


def test_outputs_are_realised_when_the_call_returns():
    out = lt.jit(lambda x: x.exp() + 1)(lt.zeros(3))
    assert out._storage.node.realized


def test_an_index_check_asked_before_a_pending_tensor_is_read_is_replayed():
    """Reading a tensor whose value is pending from before the call realises it outside the
    recording; the checks the call asked already are not realised with it, so that their
    kernels (and the call's work they read) are captured and a replay checks again."""
    table, state = lt.arange(4.0), lt.zeros(2)
    fn = lt.jit(lambda i: table[i] * 2 + state)
    for _ in range(3):
        state.add_(1.0)  # pending when the call reads it
        assert fn(lt.tensor([0, 1])).tolist() == [state.tolist()[0], 2 + state.tolist()[1]]
    state.add_(1.0)
    out = fn(lt.tensor([1, 7]))
    assert fn.replays == 2
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 4"):
        out.numpy()


def test_a_pending_tensor_whose_expression_the_call_also_builds_is_read_apart_from_it():
    """`w * 2` inside the call is the same expression as the one pending in `p` at the capture
    (hash-consing); the replay computes it rather than read `p`, which holds w * k later."""
    w, p = lt.tensor([1.0, 2.0, 3.0]), lt.zeros(3)
    fn = lt.jit(lambda x: p + w * 2 + x)
    for k in (5.0, 2.0, 3.0, 4.0):
        with lt.no_grad():
            p.copy_(w * k)
        assert fn(lt.zeros(3)).tolist() == [k + 2, 2 * (k + 2), 3 * (k + 2)]
    assert fn.replays == 2


def test_a_replayed_gather_with_an_out_of_range_index_raises_when_read():
    table = lt.arange(4.0)
    fn = _replaying(lambda i: table[i] * 2, lt.tensor([0, 1]))
    assert fn(lt.tensor([3, 2])).tolist() == [6.0, 4.0]
    out = fn(lt.tensor([1, 7]))
    assert fn.replays == 2
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 4"):
        out.numpy()
