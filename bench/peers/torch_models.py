"""bench_models.py's models written the PyTorch way (imported only where torch is).

`trainer(name, steps)` returns (run_epoch, batch): run_epoch() trains `steps` batches of
random data shaped like bench/peers/keras_models.py's. The MLP and the convnet are
bench/peers/torch_bench.py's definitions (those of bench_train.py). Not run on the
development machine (no PyTorch there: the PyPI wheel brings several GB of CUDA libraries).
"""
import numpy as np
import torch
from torch import nn

import keras_models as km
import torch_bench


class _Recurrent(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.emb = nn.Embedding(km.VOCAB, km.RNN_EMBED)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(km.RNN_EMBED, km.RNN_UNITS,
                                                            batch_first=True)
        self.out = nn.Linear(km.RNN_UNITS, 1)

    def forward(self, t):
        seq, _ = self.rnn(self.emb(t))
        return torch.sigmoid(self.out(seq[:, -1]))


def _conv_bn(cin, cout, k=3, stride=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class _Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = _conv_bn(cin, cout, stride=stride)
        self.b = _conv_bn(cout, cout, relu=False)
        self.proj = nn.Conv2d(cin, cout, 1, stride) if stride != 1 else nn.Identity()

    def forward(self, x):
        return torch.relu(self.proj(x) + self.b(self.a(x)))


def _resnet20():
    blocks, cin = [_conv_bn(3, 16)], 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(3):
            blocks.append(_Block(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    return nn.Sequential(*blocks, nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10))


def _mobilenet():
    layers, cin = [_conv_bn(3, 32, stride=2)], 32
    for cout, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)):
        layers += [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                   nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


class _Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        d = km.TR_EMBED
        self.tok = nn.Embedding(km.VOCAB, d)
        self.pos = nn.Embedding(km.TR_LEN, d)
        # Keras's key_dim=32 per head with 2 heads: 64-wide projections, back to 32
        self.q, self.k, self.v = (nn.Linear(d, km.TR_HEADS * d) for _ in range(3))
        self.o = nn.Linear(km.TR_HEADS * d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.ffn = nn.Sequential(nn.Linear(d, km.TR_FF), nn.ReLU(), nn.Linear(km.TR_FF, d))
        self.drop = nn.Dropout(0.1)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(d, 20), nn.ReLU(),
                                  nn.Dropout(0.1), nn.Linear(20, 2))

    def forward(self, t):
        n, length = t.shape
        x = self.tok(t) + self.pos(torch.arange(length))
        h, d = km.TR_HEADS, km.TR_EMBED

        def split(z):
            return z.view(n, length, h, d).transpose(1, 2)
        att = nn.functional.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)),
                                                         split(self.v(x)))
        att = self.o(att.transpose(1, 2).reshape(n, length, h * d))
        x = self.ln1(x + self.drop(att))
        x = self.ln2(x + self.drop(self.ffn(x)))
        return self.head(x.mean(dim=1))


def _gan():
    disc = nn.Sequential(nn.Conv2d(1, 64, 3, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(64, 128, 3, 2, 1), nn.LeakyReLU(0.2),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(128, 1))
    gen = nn.Sequential(nn.Linear(km.LATENT, 7 * 7 * 128), nn.LeakyReLU(0.2),
                        nn.Unflatten(1, (128, 7, 7)),
                        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                        nn.Conv2d(128, 1, 7, padding=3), nn.Sigmoid())
    return disc, gen


class _Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.tower = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 4, 5), nn.Tanh(),
                                   nn.AvgPool2d(2), nn.Conv2d(4, 16, 5), nn.Tanh(),
                                   nn.AvgPool2d(2), nn.Flatten(), nn.BatchNorm1d(256),
                                   nn.Linear(256, 10), nn.Tanh())
        self.bn = nn.BatchNorm1d(1)
        self.out = nn.Linear(1, 1)

    def forward(self, a, b):
        d = ((self.tower(a) - self.tower(b)) ** 2).sum(1, keepdim=True)
        return torch.sigmoid(self.out(self.bn(torch.sqrt(torch.clamp(d, min=1e-7)))))


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def trainer(name, steps):
    torch.manual_seed(0)
    batch = km.BATCH[name]
    x, y = km.data(name, batch * steps)
    if name == "dcgan":
        return _gan_trainer(_nchw(x), batch, steps), batch
    if name == "siamese":
        net = _Siamese()
        xs = [_nchw(a) for a in x]
        yt = torch.from_numpy(y)

        def contrastive(pred, t):  # keras.io's contrastive loss, margin 1
            return ((1 - t) * pred ** 2 + t * torch.clamp(1 - pred, min=0) ** 2).mean()
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)

        def run_epoch():
            for i in range(steps):
                s = slice(i * batch, (i + 1) * batch)
                opt.zero_grad()
                contrastive(net(xs[0][s], xs[1][s]), yt[s]).backward()
                opt.step()
        return run_epoch, batch
    if name == "mlp":
        net, xt = torch_bench.mlp_model(), torch.from_numpy(x)
        yt = torch.from_numpy(y.argmax(1))
    elif name == "convnet":
        net, xt, yt = torch_bench.conv_model(), _nchw(x), torch.from_numpy(y.argmax(1))
    elif name in ("lstm", "gru"):
        net, xt, yt = _Recurrent(name), torch.from_numpy(x.astype("int64")), \
            torch.from_numpy(y)
    elif name == "transformer":
        net, xt = _Transformer(), torch.from_numpy(x.astype("int64"))
        yt = torch.from_numpy(y.astype("int64"))
    else:
        net = _resnet20() if name == "resnet20" else _mobilenet()
        xt, yt = _nchw(x), torch.from_numpy(y.astype("int64"))
    loss_fn = nn.BCELoss() if name in ("lstm", "gru") else nn.CrossEntropyLoss()
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7) \
        if name == "mlp" else torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    net.train()

    def run_epoch():
        for i in range(steps):
            s = slice(i * batch, (i + 1) * batch)
            opt.zero_grad()
            loss_fn(net(xt[s]), yt[s]).backward()
            opt.step()
    return run_epoch, batch


def _gan_trainer(real, batch, steps):
    disc, gen = _gan()
    d_opt = torch.optim.Adam(disc.parameters(), lr=3e-4)
    g_opt = torch.optim.Adam(gen.parameters(), lr=3e-4)
    bce = nn.BCEWithLogitsLoss()

    def run_epoch():
        for i in range(steps):
            images = real[i * batch:(i + 1) * batch]
            with torch.no_grad():
                fake = gen(torch.randn(batch, km.LATENT))
            labels = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
            labels += 0.05 * torch.rand_like(labels)
            d_opt.zero_grad()
            bce(disc(torch.cat([fake, images])), labels).backward()
            d_opt.step()
            g_opt.zero_grad()
            bce(disc(gen(torch.randn(batch, km.LATENT))), torch.zeros(batch, 1)).backward()
            g_opt.step()
    return run_epoch
