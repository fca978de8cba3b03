"""Affine, BatchNorm, Dropout and the softmax loss: gradients, conventions, dtypes."""
import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from models.layers import Affine, BatchNorm, Dropout, softmax_cross_entropy


def test_affine_gradients(rng, numeric_grad, rel_error):
    x = rng.standard_normal((5, 4))
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    layer = Affine()
    out = layer.forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b)
    dx, dW, db = layer.backward(dout)

    def f():
        return float(np.sum(Affine().forward(x, W, b) * dout))

    assert rel_error(dx, numeric_grad(f, x)) < 1e-8
    assert rel_error(dW, numeric_grad(f, W)) < 1e-8
    assert rel_error(db, numeric_grad(f, b)) < 1e-8


def test_affine_skips_input_gradient_and_writes_into_given_arrays(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    W = rng.standard_normal((4, 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    layer = Affine()
    out = layer.forward(x, W, b)
    assert out.dtype == np.float32
    dW, db = np.empty_like(W), np.empty_like(b)
    dx, dW2, db2 = layer.backward(np.ones((5, 3), np.float32), need_dx=False, dW=dW, db=db)
    assert dx is None
    assert dW2 is dW and db2 is db
    np.testing.assert_allclose(dW, x.T @ np.ones((5, 3)), rtol=1e-5)
    np.testing.assert_allclose(db, np.full(3, 5.0))


@pytest.mark.parametrize("wrt", ["x", "gamma", "beta"])
def test_batchnorm_training_gradients(rng, numeric_grad, rel_error, wrt):
    x = rng.standard_normal((6, 4)) * 3 + 1
    gamma = rng.standard_normal(4)
    beta = rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    layer = BatchNorm(4, np.float64)
    layer.forward(x, gamma, beta, train=True)
    grads = dict(zip(["x", "gamma", "beta"], layer.backward(dout)))

    def f():
        return float(np.sum(BatchNorm(4, np.float64).forward(x, gamma, beta, train=True) * dout))

    target = {"x": x, "gamma": gamma, "beta": beta}[wrt]
    assert rel_error(grads[wrt], numeric_grad(f, target)) < 1e-7


def test_batchnorm_training_output_is_normalised(rng):
    x = rng.standard_normal((50, 3)) * 4 + 7
    out = BatchNorm(3, np.float64).forward(x, np.ones(3), np.zeros(3), train=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    # biased variance in the normalisation: the output's biased variance is 1 (up to eps)
    np.testing.assert_allclose(out.var(axis=0), 1, rtol=1e-5)


def test_batchnorm_running_statistics_follow_torch_conventions(rng):
    layer = BatchNorm(3, np.float64)
    np.testing.assert_array_equal(layer.running_mean, 0)
    np.testing.assert_array_equal(layer.running_var, 1)
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((8, 3)) * [1, 2, 3] + [0, 5, -2]
        layer.forward(x, gamma, beta, train=True)
        mean = 0.9 * mean + 0.1 * x.mean(axis=0)
        var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)  # unbiased, as torch
    np.testing.assert_allclose(layer.running_mean, mean)
    np.testing.assert_allclose(layer.running_var, var)
    x = rng.standard_normal((4, 3))
    out = layer.forward(x, gamma, beta, train=False)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5) * gamma + beta)
    # evaluation leaves the running statistics alone
    np.testing.assert_allclose(layer.running_mean, mean)


def test_batchnorm_matches_torch_batchnorm1d(rng):
    torch = pytest.importorskip("torch")
    ref = torch.nn.BatchNorm1d(3).double()
    ours = BatchNorm(3, np.float64)
    gamma, beta = np.ones(3), np.zeros(3)
    for _ in range(3):
        x = rng.standard_normal((8, 3)) * 2 + 1
        out = ours.forward(x, gamma, beta, train=True)
        ref.train()
        np.testing.assert_allclose(out, ref(torch.from_numpy(x)).detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), atol=1e-12)
    ref.eval()
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(ours.forward(x, gamma, beta, train=False),
                               ref(torch.from_numpy(x)).detach().numpy(), atol=1e-10)


def test_batchnorm_rejects_single_sample_batch_in_training():
    with pytest.raises(ValueError, match="more than 1 sample"):
        BatchNorm(3).forward(np.ones((1, 3), np.float32), np.ones(3, np.float32),
                             np.zeros(3, np.float32), train=True)


def test_dropout_gradient_with_fixed_mask(rng, numeric_grad, rel_error):
    x = rng.standard_normal((6, 5))
    dout = rng.standard_normal((6, 5))
    layer = Dropout(0.4)
    out = layer.forward(x, np.random.default_rng(3))
    dx = layer.backward(dout)
    kept = layer.mask != 0
    assert 0 < kept.sum() < kept.size
    assert layer.p_effective == pytest.approx(0.4, abs=2**-16)
    np.testing.assert_allclose(out, np.where(kept, x * layer.scale, 0.0))
    assert layer.scale == pytest.approx(1 / 0.6, rel=1e-4)

    def f():  # the same seed draws the same mask every time
        return float(np.sum(Dropout(0.4).forward(x, np.random.default_rng(3)) * dout))

    assert rel_error(dx, numeric_grad(f, x)) < 1e-8


def test_dropout_is_identity_in_evaluation(rng):
    x = rng.standard_normal((10, 7)).astype(np.float32)
    layer = Dropout(0.5)
    np.testing.assert_array_equal(layer.forward(x, rng, train=False), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_keeps_the_expectation_and_drops_p(rng):
    x = np.full((200, 50), 2.0, dtype=np.float32)
    layer = Dropout(0.3)
    outs = np.stack([layer.forward(x, rng).copy() for _ in range(40)])
    assert outs.dtype == np.float32
    assert abs(outs.mean() - 2.0) < 0.02  # 400k draws: std of the mean ~0.0014
    assert abs(np.mean(outs == 0) - 0.3) < 0.01
    np.testing.assert_allclose(np.unique(outs), [0.0, 2.0 * layer.scale], rtol=1e-6)
    assert layer.scale == pytest.approx(1 / 0.7, rel=1e-4)


def test_dropout_expectation_is_exact_despite_16_bit_probabilities():
    layer = Dropout(0.3)
    assert layer.p_effective == round(0.3 * 65536) / 65536
    assert (1 - layer.p_effective) * layer.scale == pytest.approx(1.0, rel=1e-15)
    assert Dropout(0.5).p_effective == 0.5 and Dropout(0.5).scale == 2.0


def test_dropout_zero_is_the_identity_even_in_training(rng):
    x = rng.standard_normal((4, 3))
    assert Dropout(0.0).forward(x, rng, train=True) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        Dropout(p)


def test_softmax_loss_matches_reference_and_gradient(rng, numeric_grad, rel_error):
    scores = rng.standard_normal((7, 5)) * 3
    y = rng.integers(0, 5, 7)
    loss, dscores = softmax_cross_entropy(scores, y)
    expected = -log_softmax(scores, axis=1)[np.arange(7), y].mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(dscores, (softmax(scores, axis=1) - onehot) / 7, atol=1e-15)
    num = numeric_grad(lambda: softmax_cross_entropy(scores, y)[0], scores)
    assert rel_error(dscores, num) < 1e-8


def test_softmax_loss_is_stable_for_huge_scores():
    scores = np.array([[1000.0, 0.0, -1000.0], [-5e4, 5e4, 0.0]], dtype=np.float32)
    loss, dscores = softmax_cross_entropy(scores, np.array([0, 0]))
    assert loss == pytest.approx(1e5 / 2)
    assert np.all(np.isfinite(dscores)) and dscores.dtype == np.float32
    np.testing.assert_allclose(dscores, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-7)


def test_softmax_initial_loss_is_log_of_classes():
    loss, _ = softmax_cross_entropy(np.zeros((4, 10), np.float32), np.array([0, 3, 9, 2]))
    assert loss == pytest.approx(np.log(10), rel=1e-6)
