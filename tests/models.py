"""Reference models in plain PyTorch (there is no CPU torchvision), with realistic BN statistics."""
import torch
import torch.nn as nn


class SimpleCNN(nn.Module):
    """The founding articles' model: input N x 3 x 32 x 32 -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(32 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        return self.fc2(torch.relu(self.fc1(x)))


def realistic_bn(model, seed=0):
    """Give every BatchNorm statistics like a trained network's: run a few training-mode batches
    through it (so running_mean/var are the data's), then spread gamma/beta away from 1/0."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = None  # cumulative average over the batches below
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        for _ in range(4):
            model(1.5 * torch.randn(16, 3, 32, 32, generator=g) + 0.3)
    return model.eval()
