/**
 * State dicts: flat maps from dotted keys (`encoder.conv_in.conv.weight`) to tensors, as
 * PyTorch modules name their parameters. Helpers to flatten a nested checkpoint value into one,
 * to pick the nested entry that holds the weights (`{'state_dict': ...}` wrappers), and to
 * keep or strip a key prefix (`vae.`). They work for any leaf type (records or HostTensors).
 */
import { CheckpointError } from './errors.ts';

const MAX_DEPTH = 64;

/**
 * Walks dicts (Maps) and lists, joining keys with '.', and collects every leaf `isLeaf` accepts;
 * other leaves (numbers, strings, None...) are skipped. `where` names the source in messages.
 */
export function flattenTensors<T>(value: unknown, isLeaf: (v: unknown) => v is T, where: string): Map<string, T> {
  const out = new Map<string, T>();
  const ancestors = new Set<unknown>();
  const visit = (v: unknown, key: string, depth: number): void => {
    if (isLeaf(v)) {
      if (out.has(key)) throw new CheckpointError(`${where}: two tensors would both be named ${JSON.stringify(key)} (a key containing dots clashes with a nested one); rename one before saving.`);
      out.set(key, v);
      return;
    }
    const children = v instanceof Map ? [...v] : Array.isArray(v) ? v.map((x, i) => [i, x] as const) : undefined;
    if (!children) return;
    // A container inside itself holds nothing new; skipping it keeps the walk finite.
    if (ancestors.has(v)) return;
    if (depth >= MAX_DEPTH) throw new CheckpointError(`${where}: containers nested more than ${MAX_DEPTH} deep at ${JSON.stringify(key)}; this is not a state dict.`);
    ancestors.add(v);
    for (const [k, child] of children) {
      const part = keyPart(k);
      if (part === undefined) {
        if (containsLeaf(child, isLeaf, new Set())) {
          throw new CheckpointError(`${where}: tensors under ${key ? JSON.stringify(key) : 'the top level'} are filed under a dict key of type ${typeof k === 'object' ? 'tuple/object' : typeof k}; only string and integer keys can name tensors.`);
        }
        continue;
      }
      visit(child, key === '' ? part : `${key}.${part}`, depth + 1);
    }
    ancestors.delete(v);
  };
  visit(value, '', 0);
  return out;
}

function keyPart(k: unknown): string | undefined {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  return undefined;
}

function containsLeaf(v: unknown, isLeaf: (v: unknown) => boolean, seen: Set<unknown>, depth = 0): boolean {
  if (isLeaf(v)) return true;
  if (depth >= MAX_DEPTH || seen.has(v) || !(v instanceof Map || Array.isArray(v))) return false;
  seen.add(v);
  const values = v instanceof Map ? [...v.values()] : v;
  return values.some((c) => containsLeaf(c, isLeaf, seen, depth + 1));
}

/**
 * The nested entry holding the weights. With `path` (dotted, e.g. "state_dict" or
 * "ema.model"), that entry; without it, the top-level `state_dict` entry when there is one,
 * else `value` itself.
 */
export function selectStateDict(value: unknown, path?: string, where = 'checkpoint'): unknown {
  if (path === undefined) {
    return value instanceof Map && value.get('state_dict') instanceof Map ? value.get('state_dict') : value;
  }
  const found = navigate(value, path);
  if (found === undefined) {
    const top = value instanceof Map ? [...value.keys()].map((k) => JSON.stringify(keyPart(k) ?? '?')).slice(0, 10).join(', ') : 'none (it is not a dict)';
    throw new CheckpointError(`${where} has no entry ${JSON.stringify(path)}; its top-level entries are: ${top}.`);
  }
  return found;
}

// Keys may themselves contain dots, so try the longest key that matches first.
function navigate(value: unknown, path: string): unknown {
  if (path === '') return value;
  for (let cut = path.length; cut > 0; cut = path.lastIndexOf('.', cut - 1)) {
    const head = path.slice(0, cut);
    const rest = cut === path.length ? '' : path.slice(cut + 1);
    let child: unknown;
    if (value instanceof Map) child = value.has(head) ? value.get(head) : /^\d+$/.test(head) ? value.get(Number(head)) : undefined;
    else if (Array.isArray(value) && /^\d+$/.test(head)) child = value[Number(head)];
    if (child !== undefined) {
      const found = navigate(child, rest);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Entries whose key starts with `prefix`, with the prefix removed; all others are dropped. */
export function stripPrefix<T>(entries: ReadonlyMap<string, T>, prefix: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of entries) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/** Entries whose key starts with `prefix`, keys unchanged. */
export function filterPrefix<T>(entries: ReadonlyMap<string, T>, prefix: string): Map<string, T> {
  return new Map([...entries].filter(([k]) => k.startsWith(prefix)));
}

/** The distinct first components of `keys` ("encoder", "decoder"...), for messages. */
export function topLevelNames(keys: Iterable<string>, limit = 8): string {
  const heads = [...new Set([...keys].map((k) => k.split('.')[0]))];
  return heads.slice(0, limit).map((h) => `${h}.`).join(', ') + (heads.length > limit ? `, … (${heads.length} in all)` : '');
}
