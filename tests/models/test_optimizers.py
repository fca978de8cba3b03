"""Optimizers: hand-computed steps, torch.optim parity and defaults, validation, dtype."""
import math

import numpy as np
import pytest

from models.optimizers import OPTIMIZERS, make_optimizer, optimizer_keywords

P0 = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]])
GRADS = [np.array([[0.1, -0.2, 0.3], [0.4, -0.5, 0.6]]),
         np.array([[-0.3, 0.1, 0.2], [0.05, 0.5, -0.1]]),
         np.array([[0.2, 0.2, -0.4], [-0.6, 0.1, 0.3]])]


# ---- reference rules, written out from the torch.optim algorithm boxes, in float64 ----

def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p = p.copy()
    buf = None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def ref_adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p = p.copy()
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p = p.copy()
    v = np.zeros_like(p)
    gavg = np.zeros_like(p)
    b = np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        vt = v
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            vt = v - gavg ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(vt) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (np.sqrt(vt) + eps)
    return p


def ref_adadelta(p, grads, lr, rho=0.9, eps=1e-6, weight_decay=0.0):
    p = p.copy()
    v = np.zeros_like(p)
    u = np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g ** 2
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx ** 2
        p = p - lr * dx
    return p


def ref_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled_weight_decay=False):
    b1, b2 = betas
    p = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        mhat = m / (1 - b1 ** t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            vhat = vmax / (1 - b2 ** t)
        else:
            vhat = v / (1 - b2 ** t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
    return p


def ref_radam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False):
    b1, b2 = betas
    p = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, 1):
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        mhat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            l_t = np.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * mhat * r_t * l_t
        else:
            p = p - lr * mhat
    return p


# name, reference, keyword sets to try (each with an explicit lr so the rule, not the default, is tested)
CASES = [
    ("sgd", ref_sgd, [dict(lr=0.1), dict(lr=0.1, weight_decay=0.1)]),
    ("momentum", lambda p, g, **k: ref_sgd(p, g, momentum=k.pop("momentum", 0.9), **k),
     [dict(lr=0.1), dict(lr=0.1, dampening=0.3, weight_decay=0.05)]),
    ("nesterov", lambda p, g, **k: ref_sgd(p, g, momentum=k.pop("momentum", 0.9), nesterov=True, **k),
     [dict(lr=0.1), dict(lr=0.1, momentum=0.5, weight_decay=0.05)]),
    ("adagrad", ref_adagrad, [dict(lr=0.1), dict(lr=0.1, lr_decay=0.5, weight_decay=0.1,
                                                  initial_accumulator_value=0.2)]),
    ("rmsprop", ref_rmsprop, [dict(lr=0.01), dict(lr=0.01, momentum=0.9, weight_decay=0.1),
                              dict(lr=0.01, centered=True, alpha=0.9), dict(lr=0.01, centered=True, momentum=0.5)]),
    ("adadelta", ref_adadelta, [dict(lr=1.0), dict(lr=0.5, rho=0.8, weight_decay=0.1)]),
    ("adam", ref_adam, [dict(lr=0.01), dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1),
                        dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)]),
    # betas[1] = 0.5 makes rho_t > 5 false at every step (the un-adapted branch); 0.9 crosses 5 at step 6
    ("radam", ref_radam, [dict(lr=0.01), dict(lr=0.01, betas=(0.9, 0.5)), dict(lr=0.01, weight_decay=0.1),
                          dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)]),
]
FLAT = [(name, ref, kw) for name, ref, kws in CASES for kw in kws]
IDS = [f"{name}-{'-'.join(sorted(kw))}" for name, _, kw in FLAT]


def _run(name, kwargs, grads, dtype=np.float64):
    params = {"W": P0.astype(dtype)}
    opt = make_optimizer(name, **kwargs)
    w = params["W"]
    for g in grads:
        opt.step(params, {"W": g.astype(dtype)})
    assert params["W"] is w, "the optimizer must update the array in place"
    return params["W"]


def test_every_registered_optimizer_is_tested():
    assert {name for name, _, _ in CASES} == set(OPTIMIZERS)


@pytest.mark.parametrize("name,ref,kwargs", FLAT, ids=IDS)
def test_steps_match_hand_computed_rule(name, ref, kwargs):
    got = _run(name, kwargs, GRADS)
    want = ref(P0, GRADS, **dict(kwargs))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # and the steps really moved the parameters
    assert not np.allclose(got, P0)


def test_radam_switches_to_rectified_step_after_rho_exceeds_five():
    # with betas[1] = 0.9, rho_t first exceeds 5 at t = 6: steps 1-5 are un-adapted
    grads = [GRADS[i % 3] for i in range(8)]
    got = _run("radam", dict(lr=0.01, betas=(0.9, 0.9)), grads)
    np.testing.assert_allclose(got, ref_radam(P0, grads, lr=0.01, betas=(0.9, 0.9)), rtol=1e-10)
    first_five = _run("radam", dict(lr=0.01, betas=(0.9, 0.9)), grads[:5])
    m = np.zeros_like(P0)
    p = P0.copy()
    for t, g in enumerate(grads[:5], 1):
        m = 0.9 * m + 0.1 * g
        p = p - 0.01 * m / (1 - 0.9 ** t)
    np.testing.assert_allclose(first_five, p, rtol=1e-12)


@pytest.mark.parametrize("name,ref,kwargs", FLAT, ids=IDS)
def test_steps_match_torch(name, ref, kwargs):
    torch = pytest.importorskip("torch")
    kwargs = dict(kwargs)
    cls = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
           "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta,
           "adam": torch.optim.Adam, "radam": torch.optim.RAdam}[name]
    tkw = dict(kwargs)
    if name in ("momentum", "nesterov"):
        tkw.setdefault("momentum", 0.9)
        tkw["nesterov"] = name == "nesterov"
    p = torch.tensor(P0.copy(), dtype=torch.float64, requires_grad=True)
    try:
        topt = cls([p], **tkw)
    except TypeError:
        pytest.skip(f"this torch version's {cls.__name__} lacks one of {sorted(tkw)}")
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    np.testing.assert_allclose(_run(name, kwargs, GRADS), p.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_defaults_equal_torch(name):
    import inspect

    torch = pytest.importorskip("torch")
    cls = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
           "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta,
           "adam": torch.optim.Adam, "radam": torch.optim.RAdam}[name]
    tsig = inspect.signature(cls.__init__).parameters
    ours = make_optimizer(name)
    for key in optimizer_keywords(name):
        if key in ("momentum", "nesterov") and name in ("momentum", "nesterov"):
            continue
        assert key in tsig, f"{key} is not a torch keyword of {cls.__name__}"
        want = tsig[key].default
        got = getattr(ours, key)
        assert got == (tuple(want) if isinstance(want, tuple) else want), key


# Written out so the defaults are checked even without torch installed (torch 2.x values).
TORCH_DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, fused=None),
    "momentum": dict(lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, fused=None),
    "nesterov": dict(lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True, fused=None),
    "adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False, fused=None),
    "radam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_defaults_are_torchs(name):
    opt = make_optimizer(name)
    assert {k: getattr(opt, k) for k in optimizer_keywords(name)} == TORCH_DEFAULTS[name]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamw'; expected one of sgd, momentum, .*radam"):
        make_optimizer("adamw")


def test_unknown_keyword_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown keyword 'beta1' for optimizer 'adam'; expected one of lr, betas"):
        make_optimizer("adam", beta1=0.9)
    with pytest.raises(ValueError, match=r"unknown keyword 'momentum' for optimizer 'adagrad'"):
        make_optimizer("adagrad", momentum=0.9)


@pytest.mark.parametrize("name,kwargs,message", [
    ("sgd", dict(lr=0.0), r"lr must be a finite number in \(0.0, inf\), got 0.0"),
    ("adam", dict(lr=-1e-3), r"lr must be .* got -0.001"),
    ("adam", dict(lr=float("nan")), r"lr must be"),
    ("adam", dict(lr="fast"), r"lr must be a number, got 'fast'"),
    ("adam", dict(betas=(0.9, 1.0)), r"betas\[1\] must be a finite number in \[0.0, 1.0\), got 1.0"),
    ("radam", dict(betas=(-0.1, 0.9)), r"betas\[0\] must be"),
    ("adam", dict(betas=0.9), r"betas must be a pair"),
    ("adam", dict(eps=-1.0), r"eps must be"),
    ("sgd", dict(momentum=-0.5), r"momentum must be"),
    ("sgd", dict(nesterov=True), r"nesterov=True needs momentum > 0"),
    ("nesterov", dict(dampening=0.1), r"nesterov=True needs .* dampening == 0"),
    ("rmsprop", dict(alpha=1.5), r"alpha must be"),
    ("rmsprop", dict(centered="yes"), r"centered must be True or False"),
    ("adadelta", dict(rho=2.0), r"rho must be"),
    ("adagrad", dict(lr_decay=-1.0), r"lr_decay must be"),
    ("adam", dict(weight_decay=-0.1), r"weight_decay must be"),
])
def test_invalid_values_are_named(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **kwargs)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_stays_float32(name):
    kwargs = {"weight_decay": 0.01}
    if name == "rmsprop":
        kwargs.update(centered=True, momentum=0.9)
    if name == "adam":
        kwargs.update(amsgrad=True)
    opt = make_optimizer(name, **kwargs)
    params = {"W": P0.astype(np.float32), "b": np.zeros(3, np.float32)}
    for g in GRADS:
        opt.step(params, {"W": g.astype(np.float32), "b": g[0].astype(np.float32)})
    assert all(p.dtype == np.float32 for p in params.values())
    for st in opt.state.values():
        for arr in list(st.buffers.values()) + st.scratch:
            assert arr.dtype == np.float32
    np.testing.assert_allclose(params["W"], _run(name, kwargs, GRADS), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_is_per_parameter_and_grads_untouched(name):
    opt = make_optimizer(name, lr=0.01, weight_decay=0.1)
    params = {"W1": P0.copy(), "W2": -P0.copy()}
    grads = {"W1": GRADS[0].copy(), "W2": GRADS[1].copy()}
    opt.step(params, grads)
    assert set(opt.state) == {"W1", "W2"}
    np.testing.assert_array_equal(grads["W1"], GRADS[0])
    np.testing.assert_array_equal(grads["W2"], GRADS[1])


def test_missing_gradient_is_named():
    opt = make_optimizer("adam")
    with pytest.raises(KeyError, match="no gradient for parameter 'b1'"):
        opt.step({"W1": P0.copy(), "b1": np.zeros(3)}, {"W1": GRADS[0]})


def test_lr_attribute_drives_the_step():
    opt = make_optimizer("sgd", lr=0.1)
    params = {"W": P0.copy()}
    opt.step(params, {"W": GRADS[0]})
    opt.lr = 0.01
    opt.step(params, {"W": GRADS[1]})
    np.testing.assert_allclose(params["W"], P0 - 0.1 * GRADS[0] - 0.01 * GRADS[1])


def test_optimizer_object_passes_through():
    opt = make_optimizer("rmsprop", lr=0.1)
    assert make_optimizer(opt) is opt
    with pytest.raises(ValueError, match="cannot be applied"):
        make_optimizer(opt, lr=0.2)
    assert repr(opt).startswith("RMSprop(lr=0.1, alpha=0.99")
