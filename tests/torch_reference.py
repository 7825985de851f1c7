"""PyTorch reference of the recurrent gain-modulated network (test oracle only).

This is the model class ``RNNet_all_fbr`` of Thorat, Aldegheri & Kietzmann
(2021), restated module for module and operation for operation so that
state_dicts saved from it have the authors' keys and the forward pass computes
what the authors' code computes (including its redundant re-evaluation of every
feedback projection).  It exists to check tfprobe against, in tests and
benchmarks; torch is never imported by the package itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RNNetAllFbr(nn.Module):
    """The authors' ``RNNet_all_fbr``; argument order as in their code."""

    def __init__(self, n_feats=8, ker_size=5, t_steps=3, b_flag=1, g_flag=1, l_flag=1, t_flag=1):
        super().__init__()
        self.conv1 = nn.Conv2d(1, n_feats, ker_size)
        self.pool = nn.MaxPool2d(3, 3)
        self.conv2 = nn.Conv2d(n_feats, n_feats * 2, ker_size)
        self.fc1 = nn.Linear(n_feats * 2 * 9 * 9, n_feats * 16)
        self.fc2 = nn.Linear(n_feats * 16 * t_steps, 20)
        self.dropout = nn.Dropout(0.5)
        for kind in ("b", "g"):
            setattr(self, f"c1x{kind}", nn.ConvTranspose2d(n_feats, 1, 7, 3))
            setattr(self, f"c2x{kind}", nn.ConvTranspose2d(n_feats * 2, 1, 20, 10))
            setattr(self, f"fc1x{kind}", nn.Linear(n_feats * 16, 100 * 100))
            setattr(self, f"c1c1{kind}", nn.Conv2d(n_feats, n_feats, ker_size, 1, 2))
            setattr(self, f"c2c1{kind}", nn.ConvTranspose2d(n_feats * 2, n_feats, 16, 10))
            setattr(self, f"fc1c1{kind}", nn.Linear(n_feats * 16, 96 * 96 * n_feats))
            setattr(self, f"c2c2{kind}", nn.Conv2d(n_feats * 2, n_feats * 2, ker_size, 1, 2))
            setattr(self, f"fc1c2{kind}", nn.Linear(n_feats * 16, 28 * 28 * n_feats * 2))
            setattr(self, f"fc1fc1{kind}", nn.Linear(n_feats * 16, n_feats * 16))
        self.n_feats = n_feats
        self.t_steps = t_steps
        self.b_flag = b_flag
        self.g_flag = g_flag
        self.l_flag = l_flag
        self.t_flag = t_flag

    def forward(self, x):
        nf = self.n_feats
        b, g, lat, td = self.b_flag, self.g_flag, self.l_flag, self.t_flag
        actvs = {0: {}, 1: {}, 2: {}, 3: {}}
        fb_acts = {}
        fb_acts_comb = {}
        for layer in range(4):
            fb_acts[layer] = {}
            fb_acts_comb[layer] = {}
            for kind in range(2):
                fb_acts_comb[layer][kind] = {}
                fb_acts[layer][kind] = {src: {} for src in range(3 - max(layer - 1, 0))}
        actvs[0][0] = F.relu(x) - F.relu(x - 1)
        c1 = F.relu(self.conv1(actvs[0][0]))
        actvs[1][0] = self.pool(c1)
        c2 = F.relu(self.conv2(actvs[1][0]))
        actvs[2][0] = self.pool(c2)
        actvs[3][0] = F.relu(self.fc1(actvs[2][0].view(-1, nf * 2 * 9 * 9)))
        actvs[4] = actvs[3][0]
        for t in range(self.t_steps - 1):
            fb_acts[0][0][0][t] = td * self.c1xb(actvs[1][t])
            fb_acts[0][0][1][t] = td * self.c2xb(actvs[2][t])
            fb_acts[0][0][2][t] = td * (self.fc1xb(actvs[3][t])).view(-1, 1, 100, 100)
            fb_acts_comb[0][0][t] = fb_acts[0][0][0][t] + fb_acts[0][0][1][t] + fb_acts[0][0][2][t]
            fb_acts[0][1][0][t] = td * self.c1xg(actvs[1][t])
            fb_acts[0][1][1][t] = td * self.c2xg(actvs[2][t])
            fb_acts[0][1][2][t] = td * (self.fc1xg(actvs[3][t])).view(-1, 1, 100, 100)
            fb_acts_comb[0][1][t] = fb_acts[0][1][0][t] + fb_acts[0][1][1][t] + fb_acts[0][1][2][t]
            dumh000 = (
                x
                + b * (td * (self.c1xb(actvs[1][t]) + self.c2xb(actvs[2][t])
                             + (self.fc1xb(actvs[3][t])).view(-1, 1, 100, 100)))
            ) * (
                1.0 + g * td * (self.c1xg(actvs[1][t]) + self.c2xg(actvs[2][t])
                                + (self.fc1xg(actvs[3][t])).view(-1, 1, 100, 100))
            )
            actvs[0][t + 1] = F.relu(dumh000) - F.relu(dumh000 - 1)

            fb_acts[1][0][0][t] = lat * self.c1c1b(c1)
            fb_acts[1][0][1][t] = td * self.c2c1b(actvs[2][t])
            fb_acts[1][0][2][t] = td * (self.fc1c1b(actvs[3][t])).view(-1, nf, 96, 96)
            fb_acts_comb[1][0][t] = fb_acts[1][0][0][t] + fb_acts[1][0][1][t] + fb_acts[1][0][2][t]
            fb_acts[1][1][0][t] = lat * self.c1c1g(c1)
            fb_acts[1][1][1][t] = td * self.c2c1g(actvs[2][t])
            fb_acts[1][1][2][t] = td * (self.fc1c1g(actvs[3][t])).view(-1, nf, 96, 96)
            fb_acts_comb[1][1][t] = fb_acts[1][1][0][t] + fb_acts[1][1][1][t] + fb_acts[1][1][2][t]
            c1 = F.relu(
                self.conv1(actvs[0][t + 1])
                + b * (lat * self.c1c1b(c1) + td * (self.c2c1b(actvs[2][t])
                                                    + (self.fc1c1b(actvs[3][t])).view(-1, nf, 96, 96)))
            ) * (
                1.0 + g * (lat * self.c1c1g(c1) + td * (self.c2c1g(actvs[2][t])
                                                         + (self.fc1c1g(actvs[3][t])).view(-1, nf, 96, 96)))
            )
            actvs[1][t + 1] = self.pool(c1)

            fb_acts[2][0][0][t] = lat * self.c2c2b(c2)
            fb_acts[2][0][1][t] = td * (self.fc1c2b(actvs[3][t])).view(-1, nf * 2, 28, 28)
            fb_acts_comb[2][0][t] = fb_acts[2][0][0][t] + fb_acts[2][0][1][t]
            fb_acts[2][1][0][t] = lat * self.c2c2g(c2)
            fb_acts[2][1][1][t] = td * (self.fc1c2g(actvs[3][t])).view(-1, nf * 2, 28, 28)
            fb_acts_comb[2][1][t] = fb_acts[2][1][0][t] + fb_acts[2][1][1][t]
            c2 = F.relu(
                self.conv2(actvs[1][t + 1])
                + b * (lat * self.c2c2b(c2) + td * (self.fc1c2b(actvs[3][t])).view(-1, nf * 2, 28, 28))
            ) * (
                1.0 + g * (lat * self.c2c2g(c2) + td * (self.fc1c2g(actvs[3][t])).view(-1, nf * 2, 28, 28))
            )
            actvs[2][t + 1] = self.pool(c2)

            fb_acts[3][0][0][t] = lat * self.fc1fc1b(actvs[3][t])
            fb_acts[3][1][0][t] = lat * self.fc1fc1g(actvs[3][t])
            fb_acts_comb[3][0][t] = fb_acts[3][0][0][t]
            fb_acts_comb[3][1][t] = fb_acts[3][1][0][t]
            actvs[3][t + 1] = F.relu(
                self.fc1(actvs[2][t + 1].view(-1, nf * 2 * 9 * 9)) + b * lat * self.fc1fc1b(actvs[3][t])
            ) * (1.0 + g * lat * self.fc1fc1g(actvs[3][t]))
            actvs[4] = torch.cat((actvs[4], actvs[3][t + 1]), 1)
        actvs[5] = torch.log(torch.clamp(F.softmax(self.fc2(actvs[4]), dim=1), 1e-10, 1.0))
        return actvs, fb_acts, fb_acts_comb
