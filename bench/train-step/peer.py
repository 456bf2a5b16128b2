"""PyTorch CPU peer for bench/train-step: the same Transformer, initial weights, batches, AdamW,
clipping and schedule as our engine. Reads out/{config.json,init.safetensors,batches.bin}; prints JSON
(per-step loss, time and tokens, then peak RSS) on stdout. Independent implementation: written against the
model description in libs/runtime/src/models, not generated from it.

Driven step by step over stdin/stdout by bench.ts (see the protocol below); timing is per step,
measured here around forward + backward + clip + AdamW, like ours."""
import json, math, resource, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F

out = sys.argv[1]
cfg = json.load(open(f"{out}/config.json"))
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)

def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    tensors = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        tensors[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype=np.float32).reshape(v["shape"]).copy())
    return tensors

P = {k: torch.nn.Parameter(v) for k, v in read_safetensors(f"{out}/init.safetensors").items()}
V, D, H, L, B = cfg["vocabSize"], cfg["dModel"], cfg["heads"], cfg["len"], cfg["batch"]
K = D // H
eps_ln = 1e-5
pos = torch.zeros(cfg["maxPositions"], D)
for p in range(cfg["maxPositions"]):
    for i in range(0, D, 2):
        a = p / 10000 ** (i / D)
        pos[p, i] = math.sin(a)
        pos[p, i + 1] = math.cos(a)

def lin(name, x):
    return x @ P[name + ".w"] + P[name + ".b"]

def ln(name, x):
    return F.layer_norm(x, (D,), P[name + ".g"], P[name + ".b"], eps_ln)

def mha(name, x, mem, bias):
    b, t, _ = x.shape
    s = mem.shape[1]
    q = lin(name + ".q", x).view(b, t, H, K).transpose(1, 2)
    k = lin(name + ".k", mem).view(b, s, H, K).transpose(1, 2)
    v = lin(name + ".v", mem).view(b, s, H, K).transpose(1, 2)
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(K) + bias, dim=-1)
    return lin(name + ".o", (att @ v).transpose(1, 2).reshape(b, t, D))

def ffn(name, x):
    return lin(name + ".fc2", torch.relu(lin(name + ".fc1", x)))

def embed(ids):
    return P["embed"][ids] * math.sqrt(D) + pos[: ids.shape[1]]

def loss_fn(src, tgt_in, tgt_out):
    src_bias = torch.where(src == 0, -1e9, 0.0)[:, None, None, :]
    t = tgt_in.shape[1]
    causal = torch.where(torch.arange(t)[None, :] > torch.arange(t)[:, None], -1e9, 0.0)
    x = embed(src)
    for i in range(cfg["encoderLayers"]):
        x = x + mha(f"enc.{i}.self_attn", ln(f"enc.{i}.ln1", x), ln(f"enc.{i}.ln1", x), src_bias)
        x = x + ffn(f"enc.{i}.ffn", ln(f"enc.{i}.ln2", x))
    mem = ln("enc.ln", x)
    y = embed(tgt_in)
    for i in range(cfg["decoderLayers"]):
        z = ln(f"dec.{i}.ln1", y)
        y = y + mha(f"dec.{i}.self_attn", z, z, causal)
        y = y + mha(f"dec.{i}.cross_attn", ln(f"dec.{i}.ln2", y), mem, src_bias)
        y = y + ffn(f"dec.{i}.ffn", ln(f"dec.{i}.ln3", y))
    logits = ln("dec.ln", y).reshape(-1, D) @ P["embed"].t()
    return F.cross_entropy(logits, tgt_out.reshape(-1), ignore_index=0, label_smoothing=cfg["labelSmoothing"])

decay = [p for k, p in P.items() if p.dim() >= 2]
no_decay = [p for k, p in P.items() if p.dim() < 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": cfg["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
    lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
)
w = cfg["warmup"]
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / w, math.sqrt(w / (s + 1))))
raw = np.fromfile(f"{out}/batches.bin", dtype=np.int64).reshape(cfg["steps"], 3, B, L)


def step(k):
    src, tin, tout = (torch.from_numpy(raw[k, j]) for j in range(3))
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(src, tin, tout)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(P.values()), cfg["maxGradNorm"])
    opt.step()
    sched.step()
    value = loss.item()
    return value, time.perf_counter() - t0, int((tout != 0).sum())


# Lock-step protocol with bench.ts, so both engines see the same machine load: one "step <k>" line in,
# one JSON line out; "done" ends with the totals.
print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "done":
        break
    k = int(cmd[1])
    value, dt, ntok = step(k)
    print(json.dumps({"step": k, "loss": value, "ms": dt * 1000, "tokens": ntok}), flush=True)
print(json.dumps({
    "torch": torch.__version__,
    "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}), flush=True)
