"""RawGAT-ST (Tak et al., 2021), multiplicative fusion of spectral and temporal graphs.

Layer names follow the release that published ``RawGAT_ST_mul.pth`` (GAT_layer1..3,
proj1/proj2/proj/proj_node). Inference only: dropout and frequency masking are omitted.
"""

from __future__ import annotations

import torch
from torch import nn

from workers.networks.aasist import GraphAttentionLayer, GraphPool
from workers.networks.frontends import ResidualBlock, SincBandpass, build_encoder, sinc_feature_map

# Six blocks from model_config_RawGAT_ST.yaml: filts[1], filts[1], filts[2], filts[3] x 3.
ENCODER_FILTS = [(32, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)]


class RawGATResidualBlock(ResidualBlock):
    """The RawGAT-ST variant of AASIST's block: the first block convolves the 1-channel input
    with ``conv_1`` (and has no ``conv1``); later blocks carry an unused ``conv_1`` too,
    because upstream always creates it and the published weights include it.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool = False) -> None:
        super().__init__(in_channels, out_channels, first)
        self.conv_1 = nn.Conv2d(1, out_channels, (2, 3), padding=(1, 1))
        if first:
            del self.conv1

    def first_conv(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_1(x) if self.first else self.conv1(x)


class RawGATST(nn.Module):
    """RawGAT-ST: 16 kHz waveform (B, 64600) float32 -> (hidden (B, 7), logits (B, 2)).

    Two encoders over the sinc feature map feed a spectral graph (23 frequency nodes ->
    14 -> projected to 12) and a temporal graph (29 time nodes -> 23 -> 12); their
    element-wise product is a 12-node spectro-temporal graph pooled to 7 nodes.
    """

    def __init__(self, sinc_channels: int = 70, first_conv: int = 128) -> None:
        super().__init__()
        self.conv_time = SincBandpass(sinc_channels, first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder1 = build_encoder(ENCODER_FILTS, RawGATResidualBlock)
        self.encoder2 = build_encoder(ENCODER_FILTS, RawGATResidualBlock)
        channels = ENCODER_FILTS[-1][1]
        # Pools keep at least two nodes, as in RawGAT-ST's own Pool.
        self.GAT_layer1 = GraphAttentionLayer(channels, 32)
        self.pool1 = GraphPool(0.64, 32, min_nodes=2)
        self.GAT_layer2 = GraphAttentionLayer(channels, 32)
        self.pool2 = GraphPool(0.81, 32, min_nodes=2)
        self.GAT_layer3 = GraphAttentionLayer(32, 16)
        self.pool3 = GraphPool(0.64, 16, min_nodes=2)
        self.proj1 = nn.Linear(14, 12)
        self.proj2 = nn.Linear(23, 12)
        self.proj = nn.Linear(16, 1)
        self.proj_node = nn.Linear(7, 2)

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = sinc_feature_map(waveform, self.conv_time, self.first_bn)
        spectral = torch.amax(self.encoder1(x).abs(), dim=3).transpose(1, 2)  # (B, F, C)
        temporal = torch.amax(self.encoder2(x).abs(), dim=2).transpose(1, 2)  # (B, T, C)
        # Linear maps across node positions: (B, nodes, D) -> (B, D, 12).
        out1 = self.proj1(self.pool1(self.GAT_layer1(spectral)).transpose(1, 2))
        out2 = self.proj2(self.pool2(self.GAT_layer2(temporal)).transpose(1, 2))
        fused = self.pool3(self.GAT_layer3((out1 * out2).transpose(1, 2)))  # (B, 7, 16)
        hidden = self.proj(fused).flatten(1)
        return hidden, self.proj_node(hidden)


def build_rawgat_st() -> RawGATST:
    return RawGATST()
