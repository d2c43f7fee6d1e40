"""The MLP's multiclass training loop: a softmax head over K classes, cross-entropy loss,
early stopping on the validation log loss (the regression and binary loop is in torch_mlp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.config import TorchMLPSettings


def fit_softmax(
    x: np.ndarray,
    y: np.ndarray,
    xv: np.ndarray,
    yv: np.ndarray,
    k: int,
    s: TorchMLPSettings,
    device: str,
    seed: int,
) -> tuple[Any, int]:
    """A fitted network (logits over ``k`` classes) and the epochs it ran."""
    import torch

    from .torch_mlp import _mlp

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = torch.device(device)
    xt = torch.tensor(np.asarray(x, np.float32), device=dev)
    yt = torch.tensor(np.asarray(y, float).astype(np.int64), device=dev)
    xvt = torch.tensor(np.asarray(xv, np.float32), device=dev)
    yvt = torch.tensor(np.asarray(yv, float).astype(np.int64), device=dev)
    net = _mlp(xt.shape[1], s.hidden, k).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=s.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    best, best_state, since, epochs = float("inf"), None, 0, 0
    for _epoch in range(s.epochs):
        epochs += 1
        net.train()
        order = torch.tensor(rng.permutation(len(xt)), device=dev)
        for i in range(0, len(order), s.batch_size):
            idx = order[i : i + s.batch_size]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(xvt), yvt))
        if val < best - 1e-6:
            best, since = val, 0
            best_state = {name: v.detach().clone() for name, v in net.state_dict().items()}
        else:
            since += 1
            if since >= s.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, epochs
