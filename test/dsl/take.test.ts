// take(table, ids): rows of a table picked by i32 ids (an embedding lookup), and the prelude's
// Embedding module built on it, from source to the interpreter; and the mistakes it reports.
import { describe, expect, it } from 'vitest';
import { bindModule, tensorArg } from '../../compiler/bind.ts';
import { interpret } from '../../compiler/reference/interpret.ts';
import { formatDiagnostic } from '../../dsl/diagnostics.ts';
import { loadSources } from '../../dsl/program.ts';
import { check, where } from './helpers.ts';

describe('take', () => {
  it('types the result as the ids’ axes followed by the row’s', () => {
    const ds = check('fn f(ids: i32[B, L], t: f32[V, D, E]) -> f32[B, L, D, E] { take(t, ids) }\n');
    expect(ds.map(formatDiagnostic)).toEqual([]);
    const wrong = check('fn f(ids: i32[B, L], t: f32[V, D]) -> f32[B, D] { take(t, ids) }\n');
    expect(wrong).toHaveLength(1);
  });

  it('asks for i32 ids, pointing at the call', () => {
    const [d] = check('fn f(ids: f32[L], t: f32[V, D]) -> f32[L, D] {\n  take(t, ids)\n}\n');
    expect(d.message).toBe('take: ids must be i32, got f32[L]');
    expect(d.help).toMatch(/cast\(ids, i32\)/);
    expect(where(d)).toBe('2:3');
  });

  it("Embedding is nn.Embedding: the key is 'weight', rows picked by id", () => {
    const src = 'module Tokens(vocab: int, width: int) {\n  embed = Embedding(vocab, width)\n  fn forward(ids: i32[B, L]) -> f32[B, L, width] { embed(ids) * 2.0 }\n}\n';
    const bound = bindModule(loadSources({ 'tokens.kiln': src }, 'tokens.kiln'), 'Tokens', { vocab: 5, width: 3 });
    expect(bound.weights.map((w) => [w.key, w.shape])).toEqual([['embed.weight', [5, 3]]]);
    const g = bound.trace({ fn: 'forward', args: [tensorArg('ids', [2, 2], 'i32')] });
    const weight = Array.from({ length: 15 }, (_, i) => i);
    const y = interpret(g, { ids: [4, 0, 2, 2], 'embed.weight': weight }).get(g.outputs[0].name)!;
    expect([...y]).toEqual([24, 26, 28, 0, 2, 4, 12, 14, 16, 12, 14, 16]);
  });
});
