/**
 * Test graphs built with the GraphBuilder the way the Kiln prelude writes the composite ops
 * (dsl/prelude/prelude.kiln): silu, group_norm, causal conv3d (replicate pad + conv + bias),
 * the VAE's ResNet block, its causal upsampler (slices + repeat + concat) and single-head
 * attention with a block-causal mask computed from iota.
 */
import type { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import { numel } from '../../../compiler/ir.ts';

/** Reshape `x` to `rank` axes (leading 1s) at `axis` positions and expand it to `shape`. */
export function broadcast(b: GraphBuilder, x: Node, shape: readonly number[], axes?: readonly number[]): Node {
  const at = axes ?? x.shape.map((_, i) => shape.length - x.shape.length + i);
  const full = shape.map(() => 1);
  at.forEach((a, i) => { full[a] = x.shape[i]; });
  return b.expand(b.reshape(x, full), shape);
}

export function silu(b: GraphBuilder, x: Node): Node {
  return b.withOrigin({ op: 'silu', path: b.origin.path }, () => {
    const one = b.const(1, x.shape);
    return b.binary('div', x, b.binary('add', one, b.unary('exp', b.unary('neg', x))));
  });
}

function mean(b: GraphBuilder, x: Node, axis: number): Node {
  const s = b.reduce('sum', x, [axis]);
  return b.binary('mul', s, b.const(1 / x.shape[axis], s.shape));
}

export function groupNorm(b: GraphBuilder, x: Node, groups: number, gamma: Node, beta: Node, eps = 1e-6): Node {
  return b.withOrigin({ op: 'group_norm', path: b.origin.path }, () => {
    const batch = x.shape[0];
    const g = b.reshape(x, [batch, groups, numel(x.shape) / (batch * groups)]);
    const mu = mean(b, g, 2);
    const d = b.binary('sub', g, b.expand(mu, g.shape));
    const v = mean(b, b.binary('mul', d, d), 2);
    const rstd = b.unary('rsqrt', b.binary('add', v, b.const(eps, v.shape)));
    const y = b.reshape(b.binary('mul', d, b.expand(rstd, g.shape)), x.shape);
    const scaled = b.binary('mul', y, broadcast(b, gamma, x.shape, [1]));
    return b.binary('add', scaled, broadcast(b, beta, x.shape, [1]));
  });
}

/** Replicate pad (k-1 frames in front, k/2 around H and W), conv, bias. */
export function causalConv3d(b: GraphBuilder, x: Node, w: Node, bias: Node, stride: readonly number[] = [1, 1, 1]): Node {
  return b.withOrigin({ op: 'causal_conv3d', path: b.origin.path }, () => {
    const k = w.shape[2];
    const h = Math.floor(w.shape[3] / 2);
    const ww = Math.floor(w.shape[4] / 2);
    const p = b.pad(x, [[0, 0], [0, 0], [k - 1, 0], [h, h], [ww, ww]], 'replicate');
    const y = b.withOrigin({ op: 'conv', path: b.origin.path }, () => b.conv(p, w, stride));
    return b.binary('add', y, broadcast(b, bias, y.shape, [1]));
  });
}

export interface ResnetParams {
  readonly prefix: string;
  readonly cin: number;
  readonly cout: number;
  readonly groups: number;
}

function param(b: GraphBuilder, name: string, shape: readonly number[]): Node {
  return b.input(name, shape, 'f32', 'weight');
}

export function resnetBlock(b: GraphBuilder, x: Node, p: ResnetParams): Node {
  const w = (n: string, shape: readonly number[]): Node => param(b, `${p.prefix}.${n}`, shape);
  const at = <T>(path: string, f: () => T): T => b.withOrigin({ op: 'module', path: `${p.prefix}.${path}` }, f);
  const h1 = at('norm1', () => silu(b, groupNorm(b, x, p.groups, w('norm1.weight', [p.cin]), w('norm1.bias', [p.cin]))));
  const c1 = at('conv1', () => causalConv3d(b, h1, w('conv1.conv.weight', [p.cout, p.cin, 3, 3, 3]), w('conv1.conv.bias', [p.cout])));
  const h2 = at('norm2', () => silu(b, groupNorm(b, c1, p.groups, w('norm2.weight', [p.cout]), w('norm2.bias', [p.cout]))));
  const c2 = at('conv2', () => causalConv3d(b, h2, w('conv2.conv.weight', [p.cout, p.cout, 3, 3, 3]), w('conv2.conv.bias', [p.cout])));
  const skip = p.cin === p.cout ? x
    : at('conv_shortcut', () => causalConv3d(b, x, w('conv_shortcut.conv.weight', [p.cout, p.cin, 1, 1, 1]), w('conv_shortcut.conv.bias', [p.cout])));
  return at('add', () => b.binary('add', skip, c2));
}

/** The causal upsampler's resampling: frame 0 upsampled in space only, the rest by (ft, 2, 2). */
export function upsampleCausal(b: GraphBuilder, x: Node, ft: number): Node {
  const [batch, c, t, h, w] = x.shape;
  const first = b.repeat(b.slice(x, [0, 0, 0, 0, 0], [batch, c, 1, h, w]), [1, 1, 1, 2, 2]);
  if (t === 1) return first;
  const rest = b.repeat(b.slice(x, [0, 0, 1, 0, 0], [batch, c, t - 1, h, w]), [1, 1, ft, 2, 2]);
  return b.concat([first, rest], 2);
}

/** The mid-block's block-causal mask: key frame <= query frame, as a [L, L] bool from iota. */
export function blockCausalMask(b: GraphBuilder, l: number, hw: number): Node {
  const i = b.iota([l, l], 0);
  const j = b.iota([l, l], 1);
  const d = b.const(hw, [l, l], 'i32');
  return b.binary('le', b.binary('div', j, d), b.binary('div', i, d));
}

/** softmax(q kᵀ · scale, masked) v for q, k, v of shape [B, L, D]; `mask` is [L, L] bool. */
export function attention(b: GraphBuilder, q: Node, k: Node, v: Node, mask?: Node, additive = false): Node {
  return b.withOrigin({ op: 'attention', path: b.origin.path }, () => {
    const [batch, l, d] = q.shape;
    const lk = k.shape[1];
    let s = b.binary('mul', b.matmul(q, b.permute(k, [0, 2, 1])), b.const(1 / Math.sqrt(d), [batch, l, lk]));
    if (mask && additive) {
      const add = b.where(mask, b.const(0, mask.shape), b.const(-Infinity, mask.shape));
      s = b.binary('add', s, broadcast(b, add, s.shape, [1, 2]));
    } else if (mask) {
      s = b.where(broadcast(b, mask, s.shape, [1, 2]), s, b.const(-Infinity, s.shape));
    }
    const m = b.reduce('max', s, [2]);
    const e = b.unary('exp', b.binary('sub', s, b.expand(m, s.shape)));
    const p = b.binary('div', e, b.expand(b.reduce('sum', e, [2]), s.shape));
    return b.matmul(p, v);
  });
}
