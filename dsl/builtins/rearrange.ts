/**
 * einops-style `rearrange(x, "b c f h w -> b (f h w) c", h: 4)`: axis names, parenthesised
 * groups (merged axes on the right, split axes on the left, with sizes given as keywords when
 * they cannot be inferred), `1` for unit axes, and `...` for the axes in between. It lowers to
 * reshape (split) → permute → reshape (merge): views only.
 */
import { Dim } from '../dims.ts';
import { error } from '../diagnostics.ts';
import type { Ctx } from '../elaborate/context.ts';
import type { Span } from '../source.ts';
import * as ops from '../tensor_ops.ts';
import { typeToString, type TensorValue } from '../values.ts';

type Group = string[];

interface Side {
  readonly groups: Group[];
  readonly ellipsis: number;
}

const ELLIPSIS = '…';

function parseSide(text: string, span: Span, which: string): Side {
  const groups: Group[] = [];
  let ellipsis = -1;
  const tokens = text.replace(/\.\.\./g, ` ${ELLIPSIS} `).replace(/[()]/g, (m) => ` ${m} `).trim().split(/\s+/).filter(Boolean);
  let current: Group | null = null;
  for (const t of tokens) {
    if (t === '(') {
      if (current) throw error(`rearrange: nested parentheses in the ${which} pattern "${text}"`, span);
      current = [];
    } else if (t === ')') {
      if (!current) throw error(`rearrange: unbalanced ')' in the ${which} pattern "${text}"`, span);
      groups.push(current);
      current = null;
    } else if (t === ELLIPSIS) {
      if (current) throw error('rearrange: ... cannot be inside parentheses', span);
      if (ellipsis >= 0) throw error(`rearrange: ... appears twice in the ${which} pattern`, span);
      ellipsis = groups.length;
      groups.push([ELLIPSIS]);
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t) || t === '1') {
      if (current) current.push(t);
      else groups.push([t]);
    } else {
      throw error(`rearrange: '${t}' is not an axis name in the ${which} pattern "${text}"`, span, { help: 'axis names are identifiers; groups are written (a b)' });
    }
  }
  if (current) throw error(`rearrange: unbalanced '(' in the ${which} pattern "${text}"`, span);
  return { groups, ellipsis };
}

export function rearrange(ctx: Ctx, span: Span, x: TensorValue, pattern: string, sizes: ReadonlyMap<string, Dim>): TensorValue {
  const site = { span, op: 'rearrange' };
  const parts = pattern.split('->');
  if (parts.length !== 2) throw error(`rearrange: the pattern "${pattern}" needs exactly one '->'`, span, { help: 'e.g. "b c h w -> b (h w) c"' });
  const lhs = parseSide(parts[0], span, 'input');
  const rhs = parseSide(parts[1], span, 'output');
  const fixedIn = lhs.groups.length - (lhs.ellipsis >= 0 ? 1 : 0);
  const rank = x.shape.length;
  if (lhs.ellipsis < 0 ? rank !== fixedIn : rank < fixedIn) {
    throw error(`rearrange: the input pattern "${parts[0].trim()}" has ${fixedIn} axes but the tensor is ${typeToString(x)} (rank ${rank})`, span, { help: 'write one name or group per axis, or use ...' });
  }
  const ellLen = rank - fixedIn;
  const ellNames = Array.from({ length: ellLen }, (_, i) => `${ELLIPSIS}${i}`);
  const expand = (side: Side): Group[] => side.groups.flatMap((g) => (g[0] === ELLIPSIS ? ellNames.map((n) => [n]) : [g]));
  const inGroups = expand(lhs);
  const outGroups = expand(rhs);
  const inNames = inGroups.flat().filter((n) => n !== '1');
  const outNames = outGroups.flat().filter((n) => n !== '1');
  const dup = inNames.find((n, i) => inNames.indexOf(n) !== i) ?? outNames.find((n, i) => outNames.indexOf(n) !== i);
  if (dup) throw error(`rearrange: axis '${dup}' appears twice on one side of "${pattern}"`, span);
  const missing = inNames.filter((n) => !outNames.includes(n));
  const extra = outNames.filter((n) => !inNames.includes(n));
  if (missing.length || extra.length) {
    throw error(`rearrange: both sides of "${pattern}" must name the same axes${missing.length ? `; '${missing.join("', '")}' only on the left` : ''}${extra.length ? `; '${extra.join("', '")}' only on the right` : ''}`, span, {
      help: 'rearrange only reorders, splits and merges axes; use sum/mean to reduce and expand/repeat to add',
    });
  }
  for (const k of sizes.keys()) {
    if (!inNames.includes(k)) throw error(`rearrange: the size '${k}' names no axis of "${pattern}"`, span);
  }
  // Sizes of the elementary axes from the input decomposition.
  const size = new Map<string, Dim>();
  inGroups.forEach((g, axis) => {
    const total = x.shape[axis];
    const names = g.filter((n) => n !== '1');
    const unknown = names.filter((n) => !sizes.has(n));
    if (names.length === 1 && unknown.length === 1) {
      size.set(names[0], total);
      if (sizes.has(names[0])) ctx.requireEqual(total, sizes.get(names[0])!, span, () => ({ message: `rearrange: axis '${names[0]}' is ${total}, not ${sizes.get(names[0])}` }));
      return;
    }
    if (unknown.length > 1) {
      throw error(`rearrange: cannot split axis ${axis} (${total}) into (${g.join(' ')}): give the sizes of all but one, e.g. ${unknown[0]}: ...`, span);
    }
    let known = Dim.of(1);
    for (const n of names) if (sizes.has(n)) { known = known.mul(sizes.get(n)!); size.set(n, sizes.get(n)!); }
    if (unknown.length === 1) {
      const inferred = total.floorDiv(known);
      ctx.requireEqual(inferred.mul(known), total, span, () => ({
        message: `rearrange: axis ${axis} of ${typeToString(x)} has size ${total}, which is not divisible by ${known} to split into (${g.join(' ')})`,
      }));
      size.set(unknown[0], inferred);
    } else {
      ctx.requireEqual(known, total, span, () => ({ message: `rearrange: axis ${axis} of ${typeToString(x)} has size ${total}, but (${g.join(' ')}) is ${known}` }));
    }
  });
  // Split (labels: each elementary axis keeps its name), permute, merge.
  const elemNames = inGroups.flat();
  const elemShape = elemNames.map((n) => (n === '1' ? Dim.of(1) : size.get(n)!));
  const labelOf = (n: string) => (n.startsWith(ELLIPSIS) ? undefined : n);
  let t = ops.reshape(ctx, site, x, elemShape, elemNames.map((n) => (n === '1' ? undefined : labelOf(n))));
  const keep = elemNames.map((n, i) => [n, i] as const).filter(([n]) => n !== '1');
  const dropped = ops.reshape(ctx, site, t, keep.map(([n]) => size.get(n)!), keep.map(([n]) => labelOf(n)));
  t = dropped;
  const order = outNames.map((n) => keep.findIndex(([k]) => k === n));
  t = ops.permute(ctx, site, t, order);
  const outShape = outGroups.map((g) => g.filter((n) => n !== '1').reduce((a, n) => a.mul(size.get(n)!), Dim.of(1)));
  const outLabels = outGroups.map((g) => (g.length === 1 && g[0] !== '1' ? labelOf(g[0]) : undefined));
  return ops.reshape(ctx, site, t, outShape, outLabels);
}
