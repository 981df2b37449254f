"""AASIST and AASIST-L (Jung et al., 2022): graph attention layers, spectro-temporal back end.

The graph layers and :class:`SpectroTemporalGraphBackend` are shared with RawGAT-ST and the
CtrSVDD baselines, whose upstream code reuses them. Inference only: dropout is omitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from workers.networks.frontends import SincBandpass, build_encoder, sinc_feature_map


def _pairwise_products(x: torch.Tensor) -> torch.Tensor:
    """(B, N, D) -> (B, N, N, D), entry [b, i, j] = x[b, i] * x[b, j]."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the feature axis of (B, N, D) node features."""
    return bn(x.reshape(-1, x.size(-1))).view(x.shape)


class GraphAttentionLayer(nn.Module):
    """Graph attention over a fully connected graph: (B, N, in_dim) -> (B, N, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = nn.Parameter(torch.empty(out_dim, 1))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.temperature = temperature
        nn.init.xavier_normal_(self.att_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(self.att_proj(_pairwise_products(x))) @ self.att_weight
        attention = F.softmax(scores.squeeze(-1) / self.temperature, dim=-1)
        out = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, out))


class HtrgGraphAttentionLayer(nn.Module):
    """Heterogeneous graph attention of two node types plus a master node.

    (B, N1, in_dim), (B, N2, in_dim), master (B, 1, in_dim)
    -> (B, N1, out_dim), (B, N2, out_dim), master (B, 1, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight22 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weight12 = nn.Parameter(torch.empty(out_dim, 1))
        self.att_weightM = nn.Parameter(torch.empty(out_dim, 1))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.temperature = temperature
        for weight in (self.att_weight11, self.att_weight22, self.att_weight12, self.att_weightM):
            nn.init.xavier_normal_(weight)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n1 = x1.size(1)
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        master = self._update_master(x, master)
        out = self.proj_with_att(self._attention(x, n1) @ x) + self.proj_without_att(x)
        out = F.selu(_batch_norm_nodes(self.bn, out))
        return out[:, :n1], out[:, n1:], master

    def _attention(self, x: torch.Tensor, n1: int) -> torch.Tensor:
        """(B, N, D) -> row-stochastic (B, N, N); each block of node types has its own weight."""
        hidden = torch.tanh(self.att_proj(_pairwise_products(x)))
        is_type1 = torch.arange(x.size(1), device=x.device) < n1
        both1 = (is_type1[:, None] & is_type1[None, :]).unsqueeze(-1)
        both2 = (~is_type1[:, None] & ~is_type1[None, :]).unsqueeze(-1)
        scores = torch.where(
            both1,
            hidden @ self.att_weight11,
            torch.where(both2, hidden @ self.att_weight22, hidden @ self.att_weight12),
        )
        return F.softmax(scores.squeeze(-1) / self.temperature, dim=-1)

    def _update_master(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # (B, N, 1)
        attention = F.softmax(scores / self.temperature, dim=1).transpose(1, 2)
        return self.proj_with_attM(attention @ x) + self.proj_without_attM(master)


class GraphPool(nn.Module):
    """Keep the top ``ratio`` of nodes by a learned sigmoid score, scaled by that score.

    (B, N, D) -> (B, max(int(N * ratio), min_nodes), D), nodes in descending score order
    (the order matters to RawGAT-ST, which projects across node positions).
    """

    def __init__(self, ratio: float, in_dim: int, min_nodes: int = 1) -> None:
        super().__init__()
        self.ratio = ratio
        self.min_nodes = min_nodes
        self.proj = nn.Linear(in_dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(h))
        keep = max(int(h.size(1) * self.ratio), self.min_nodes)
        _, idx = torch.topk(scores, keep, dim=1)
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.size(2)))


class SpectroTemporalGraphBackend(nn.Module):
    """AASIST's back end: encoder map (B, C, 23, T) -> (hidden (B, 5 * gat_dims[1]), out (B, k)).

    Spectral and temporal graphs (|.|-max over time, over frequency), two heterogeneous
    graph branches with master nodes, element-wise max of the branches, max/mean readout.
    """

    def __init__(
        self,
        channels: int,
        gat_dims: tuple[int, int],
        pool_ratios: tuple[float, ...],
        temperatures: tuple[float, ...],
        n_outputs: int,
        n_spectral_nodes: int = 23,
    ) -> None:
        super().__init__()
        dim0, dim1 = gat_dims
        self.pos_S = nn.Parameter(torch.randn(1, n_spectral_nodes, channels))
        self.master1 = nn.Parameter(torch.randn(1, 1, dim0))
        self.master2 = nn.Parameter(torch.randn(1, 1, dim0))
        self.GAT_layer_S = GraphAttentionLayer(channels, dim0, temperatures[0])
        self.GAT_layer_T = GraphAttentionLayer(channels, dim0, temperatures[1])
        self.HtrgGAT_layer_ST11 = HtrgGraphAttentionLayer(dim0, dim1, temperatures[2])
        self.HtrgGAT_layer_ST12 = HtrgGraphAttentionLayer(dim1, dim1, temperatures[2])
        self.HtrgGAT_layer_ST21 = HtrgGraphAttentionLayer(dim0, dim1, temperatures[2])
        self.HtrgGAT_layer_ST22 = HtrgGraphAttentionLayer(dim1, dim1, temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], dim0)
        self.pool_T = GraphPool(pool_ratios[1], dim0)
        self.pool_hS1 = GraphPool(pool_ratios[2], dim1)
        self.pool_hT1 = GraphPool(pool_ratios[2], dim1)
        self.pool_hS2 = GraphPool(pool_ratios[2], dim1)
        self.pool_hT2 = GraphPool(pool_ratios[2], dim1)
        self.out_layer = nn.Linear(5 * dim1, n_outputs)

    def classify(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder map (B, C, F, T) -> (hidden, outputs)."""
        spectral = torch.amax(e.abs(), dim=3).transpose(1, 2) + self.pos_S
        temporal = torch.amax(e.abs(), dim=2).transpose(1, 2)
        out_S = self.pool_S(self.GAT_layer_S(spectral))
        out_T = self.pool_T(self.GAT_layer_T(temporal))
        batch = e.size(0)
        branch1 = self._branch(out_T, out_S, self.master1.expand(batch, -1, -1), 1)
        branch2 = self._branch(out_T, out_S, self.master2.expand(batch, -1, -1), 2)
        out_T, out_S, master = (torch.maximum(a, b) for a, b in zip(branch1, branch2, strict=True))
        hidden = torch.cat(
            [
                out_T.abs().amax(dim=1),
                out_T.mean(dim=1),
                out_S.abs().amax(dim=1),
                out_S.mean(dim=1),
                master.squeeze(1),
            ],
            dim=1,
        )
        return hidden, self.out_layer(hidden)

    def forward(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classify(e)

    def _branch(
        self, out_T: torch.Tensor, out_S: torch.Tensor, master: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One heterogeneous inference path (``k`` picks the ST{k}1 / ST{k}2 layers)."""
        first: HtrgGraphAttentionLayer = getattr(self, f"HtrgGAT_layer_ST{k}1")
        second: HtrgGraphAttentionLayer = getattr(self, f"HtrgGAT_layer_ST{k}2")
        out_T, out_S, master = first(out_T, out_S, master)
        out_S = getattr(self, f"pool_hS{k}")(out_S)
        out_T = getattr(self, f"pool_hT{k}")(out_T)
        aug_T, aug_S, aug_master = second(out_T, out_S, master)
        return out_T + aug_T, out_S + aug_S, master + aug_master


@dataclass(frozen=True)
class AasistConfig:
    """``model_config`` of an AASIST .conf file, with the six encoder blocks spelled out."""

    encoder: tuple[tuple[int, int], ...]
    gat_dims: tuple[int, int]
    pool_ratios: tuple[float, float, float, float]
    temperatures: tuple[float, float, float, float] = (2.0, 2.0, 100.0, 100.0)
    sinc_channels: int = 70
    first_conv: int = 128


# From clovaai/aasist config/AASIST.conf and AASIST-L.conf
# (filts [70, a, b, c, d] -> a, b, c, d, d, d).
AASIST_CONFIG = AasistConfig(
    encoder=((1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)),
    gat_dims=(64, 32),
    pool_ratios=(0.5, 0.7, 0.5, 0.5),
)
AASIST_L_CONFIG = AasistConfig(
    encoder=((1, 32), (32, 32), (32, 24), (24, 24), (24, 24), (24, 24)),
    gat_dims=(24, 32),
    pool_ratios=(0.4, 0.5, 0.7, 0.5),
)


class AASIST(SpectroTemporalGraphBackend):
    """AASIST: 16 kHz waveform (B, 64600) float32 -> (hidden (B, 160), logits (B, 2)).

    Subclasses the back end so that parameter names stay flat, as in the published weights.
    """

    def __init__(self, config: AasistConfig = AASIST_CONFIG) -> None:
        super().__init__(
            config.encoder[-1][1],
            config.gat_dims,
            config.pool_ratios,
            config.temperatures,
            n_outputs=2,
        )
        self.conv_time = SincBandpass(config.sinc_channels, config.first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder = build_encoder(list(config.encoder))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = sinc_feature_map(waveform, self.conv_time, self.first_bn)
        return self.classify(self.encoder(x))


def build_aasist() -> AASIST:
    return AASIST(AASIST_CONFIG)


def build_aasist_l() -> AASIST:
    return AASIST(AASIST_L_CONFIG)
