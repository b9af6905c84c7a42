"""The paper's TASR models in PyTorch, on the CPU or a CUDA GPU: the peer `npm run bench -- models` measures tokenwave against.

The same layers, shapes and parameter count as src/models/audio-transformer.ts (and bench/tfjs-model.ts): resize to
the image size, normalise, one MBConv block (1x1 expand + BatchNorm + ReLU6, depthwise 3x3 + BatchNorm + ReLU6, 1x1
project + BatchNorm, + input), the patch embedding, TokenLearner v1 on the patch grid (LayerNorm, three 3x3
convolutions with GELU, a fourth with a sigmoid, mean pooling) or every patch, a positional embedding, pre-LN
transformer blocks (multi-head attention, GELU MLP, dropout), LayerNorm, the mean over tokens and the classifier.
float32, as many CPU threads as the machine has cores, both memory formats timed and the faster kept. Timing only:
the weights are PyTorch's own initialisation.

Reads one JSON object on stdin: {"config": <tokenwave ModelConfig>, "mode": "train" | "infer", "batch": N,
"runs": N, "device": "cpu" | "cuda"}; prints one JSON line: {"clipsPerSecond", "channelsLast", "parameters",
"threads", "torch", "blas", "device"}.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

FRAMES, BINS = 124, 129


class MBConv(nn.Module):
    def __init__(self, expanded: int, channels: int, momentum: float):
        super().__init__()
        # Keras' BatchNorm momentum m keeps m of the running value; PyTorch's momentum is the new value's share.
        bn = lambda n: nn.BatchNorm2d(n, eps=1e-3, momentum=1 - momentum)
        self.expand = nn.Conv2d(1, expanded, 1)
        self.expand_bn = bn(expanded)
        self.depthwise = nn.Conv2d(expanded, expanded, 3, padding=1, groups=expanded)
        self.depthwise_bn = bn(expanded)
        self.project = nn.Conv2d(expanded, channels, 1)
        self.project_bn = bn(channels)

    def forward(self, x):
        h = F.relu6(self.expand_bn(self.expand(x)))
        h = F.relu6(self.depthwise_bn(self.depthwise(h)))
        return self.project_bn(self.project(h)) + x  # a 1-channel input broadcasts over the channels


class TokenLearnerV1(nn.Module):
    def __init__(self, width: int, tokens: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.convs = nn.ModuleList(nn.Conv2d(width if i == 0 else tokens, tokens, 3, padding=1, bias=False) for i in range(4))

    def forward(self, x):  # x [B, C, G, G]
        maps = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        for i, conv in enumerate(self.convs):
            maps = F.gelu(conv(maps)) if i < 3 else torch.sigmoid(conv(maps))
        B, C, G, _ = x.shape
        # tokens [B, k, C]: the mean over positions of each map times the features
        return torch.bmm(maps.flatten(2), x.flatten(2).transpose(1, 2)) / (G * G)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, key_dim: int, mlp: list, dropout: float):
        super().__init__()
        inner = heads * key_dim
        self.heads, self.key_dim, self.dropout = heads, key_dim, dropout
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.query, self.key, self.value = (nn.Linear(width, inner) for _ in range(3))
        self.output = nn.Linear(inner, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        sizes = [width, *mlp]
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, t):
        B, T, _ = t.shape
        n = self.norm1(t)
        split = lambda y: y.view(B, T, self.heads, self.key_dim).transpose(1, 2)
        q, k, v = split(self.query(n)), split(self.key(n)), split(self.value(n))
        probs = F.dropout(torch.softmax(q @ k.transpose(-1, -2) / self.key_dim**0.5, dim=-1), self.dropout, self.training)
        t = t + self.output((probs @ v).transpose(1, 2).reshape(B, T, -1))
        m = self.norm2(t)
        for layer in self.mlp:
            m = F.dropout(F.gelu(layer(m)), self.dropout, self.training)
        return t + m


class Tasr(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        if c["family"] != "TASR" or c["mbconvBlocks"] != 1 or c["tokenFuser"] or c["tokenLearnerVersion"] != "v1" or c["tokenLearnerAt"] != 0:
            raise SystemExit(f"the PyTorch peer implements the paper's TASR models, not {c['name']}")
        self.c = c
        width, patch = c["width"], c["patch"]
        self.stem = MBConv(c["mbconvExpanded"], c["mbconvChannels"], c["batchNormMomentum"])
        self.patch_embed = nn.Conv2d(c["mbconvChannels"], width, patch, stride=patch)
        self.grid = c["imageSize"] // patch
        self.token_learner = TokenLearnerV1(width, c["tokens"]) if c["tokens"] > 0 else None
        positions = c["tokens"] if c["tokens"] > 0 else self.grid**2
        self.position = nn.Parameter(torch.empty(positions, width).uniform_(-0.05, 0.05))
        self.blocks = nn.ModuleList(Block(width, c["heads"], c["keyDim"], c["mlp"], c["dropout"]) for _ in range(c["blocks"]))
        self.head_norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, c["classes"])

    def forward(self, spectrograms):  # [B, frames, bins]
        c = self.c
        size = c["imageSize"]
        x = F.interpolate(spectrograms.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False).contiguous(memory_format=self.layout)
        x = (x - c["normalization"]["mean"]) / max(c["normalization"]["variance"] ** 0.5, 1e-7)
        h = self.patch_embed(self.stem(x))
        t = self.token_learner(h) if self.token_learner is not None else h.flatten(2).transpose(1, 2)
        t = F.dropout(t + self.position, c["dropout"], self.training)
        for block in self.blocks:
            t = block(t)
        return self.head(self.head_norm(t).mean(dim=1))


def clips_per_second(job: dict, layout: torch.memory_format, device: torch.device) -> tuple[float, int]:
    """The median of job["runs"] timed steps after one warm-up in one memory format, and the parameter count."""
    torch.manual_seed(0)
    model = Tasr(job["config"]).to(device=device, memory_format=layout)
    model.layout = layout
    batch, runs = job["batch"], job["runs"]
    x = torch.rand(batch, FRAMES, BINS, device=device) * 2
    labels = torch.arange(batch, device=device) % job["config"]["classes"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-7, weight_decay=1e-4)

    # each step ends by reading a number back (.item()), which waits for a GPU's queued kernels: the clock is honest
    def step() -> None:
        if job["mode"] == "train":
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), labels)
            loss.backward()
            optimizer.step()
            loss.item()
        else:
            model.eval()
            with torch.inference_mode():
                model(x).sum().item()

    step()  # warm-up
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return batch / seconds[len(seconds) // 2], sum(p.numel() for p in model.parameters())


def main() -> None:
    job = json.load(sys.stdin)
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    device = torch.device(job.get("device", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no CUDA GPU here")
    # Both memory formats, the faster kept: channels-last made a TASR_4L_8T-8H training step at batch 32 faster on
    # the CPU here (1.18 against 1.40 s) and batch-1 inference slower (12 against 3.4 ms).
    timed = {layout: clips_per_second(job, layout, device) for layout in (torch.contiguous_format, torch.channels_last)}
    best = max(timed, key=lambda layout: timed[layout][0])
    print(json.dumps({
        "clipsPerSecond": timed[best][0],
        "channelsLast": best == torch.channels_last,
        "parameters": timed[best][1],
        "threads": threads,
        "torch": torch.__version__,
        "blas": loaded_blas(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }))


def loaded_blas() -> str:
    """The BLAS library this process loaded (Debian's torch takes whichever libblas.so.3 the system points at: the
    reference BLAS unless OpenBLAS is installed, several times slower)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(paths)) or "none found"


if __name__ == "__main__":
    main()
