"""A learned peer: a GRU pose-sequence autoencoder scored by reconstruction error.

Written from the description of the reconstruction branch of MPED-RNN (Morais et al.,
"Learning Regularity in Skeleton Trajectories for Anomaly Detection in Videos", CVPR 2019):
an encoder GRU reads the (normalised) pose sequence, a decoder GRU rebuilds it from the final
encoder state, the model is trained on normal clips only and the anomaly score is the mean
squared reconstruction error. Our simplifications (no code was copied): one sequence per clip
(all persons concatenated per frame, the raw-pose descriptor's 32 frames), no global/local
decomposition, no prediction branch, a few epochs of Adam, fixed seed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from skelprompt.model.seeded import seeded


class _GRUAutoencoder(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.enc = nn.GRU(dim, hidden, batch_first=True)
        self.dec = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.enc(x)  # [1, B, H]
        z = h[-1].unsqueeze(1).expand(-1, x.shape[1], -1).contiguous()
        y, _ = self.dec(z, h)
        return self.out(y)


class SequenceAutoencoder:
    """Fit on normal sequences [N, T, D]; score = mean squared reconstruction error per sequence."""

    def __init__(self, hidden: int = 64, epochs: int = 20, lr: float = 3e-3, batch: int = 32, seed: int = 0):
        self.hidden, self.epochs, self.lr, self.batch, self.seed = hidden, epochs, lr, batch, seed

    def fit(self, x: np.ndarray) -> SequenceAutoencoder:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small GRUs run faster on one thread than on shared cores
        try:
            return self._fit(x)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, x: np.ndarray) -> SequenceAutoencoder:
        x = np.asarray(x, np.float32)
        self.mu = x.reshape(-1, x.shape[-1]).mean(0)
        self.sd = x.reshape(-1, x.shape[-1]).std(0) + 1e-3
        xs = torch.from_numpy((x - self.mu) / self.sd)
        # the weights as torch.manual_seed(seed) would give them, the global generator untouched
        self.net = seeded(lambda: _GRUAutoencoder(x.shape[-1], self.hidden), self.seed)
        g = torch.Generator().manual_seed(self.seed)  # the batch order
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self.net.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(xs), generator=g)
            for i in range(0, len(xs), self.batch):
                b = xs[perm[i : i + self.batch]]
                loss = ((self.net(b) - b) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net.eval()
        return self

    @torch.no_grad()
    def score(self, x: np.ndarray) -> np.ndarray:
        xs = torch.from_numpy((np.asarray(x, np.float32) - self.mu) / self.sd)
        return ((self.net(xs) - xs) ** 2).mean((1, 2)).numpy().astype(np.float64)


def descriptor_sequences(desc: np.ndarray, frames: int) -> np.ndarray:
    """Flattened raw-pose descriptors [N, persons * frames * 26] as sequences [N, frames, persons * 26]."""
    x = np.asarray(desc).reshape(len(desc), -1, frames, 26).transpose(0, 2, 1, 3)
    return x.reshape(len(x), frames, -1)


def peer_scores(fit_desc: np.ndarray, test_desc: np.ndarray, frames: int, seed: int = 0, **kw) -> np.ndarray:
    """Train the peer on flattened raw-pose descriptors of normal clips and score the test ones."""
    f = descriptor_sequences(fit_desc, frames)
    t = descriptor_sequences(test_desc, frames)
    return SequenceAutoencoder(seed=seed, **kw).fit(f).score(t)
