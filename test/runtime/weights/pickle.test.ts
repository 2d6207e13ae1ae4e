import { describe, expect, it } from 'vitest';
import { PytorchCheckpointError } from '../../../runtime/weights/errors.ts';
import { PyCallable, unpickle } from '../../../runtime/weights/pickle.ts';

const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const noGlobals = { label: 'test.pkl', file: 'test.pkl', resolveGlobal: () => undefined };

// CPython 3.11 `pickle.dumps(value, protocol=p)` of:
//   {'ints': [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31-1, 2**31, 2**53, 2**70, -2**70],
//    'floats': [0.5, -1e300, inf], 'strs': ['', 'a', 'é€😀'],
//    'misc': [None, True, False, (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], {}],
//    'nested': {'k': [1, {'j': (2,)}]}, 3: 'int key', 'shared': [s, s]}  with s = [7]
const PYTHON_PICKLES: Record<number, string> = {
  2: '80027d7100285804000000696e747371015d7102284b004b014bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a0500000080008a07000000000000208a090000000000000000408a090000000000000000c0655806000000666c6f61747371035d710428473fe000000000000047fe37e43c8800759c477ff00000000000006558040000007374727371055d7106285800000000710758010000006171085809000000c3a9e282acf09f988071096558040000006d697363710a5d710b284e8889294b0185710c4b014b0286710d4b014b024b0387710e284b014b024b034b0474710f5d71107d71116558060000006e657374656471127d711358010000006b71145d7115284b017d711658010000006a71174b028571187365734b035807000000696e74206b657971195806000000736861726564711a5d711b285d711c4b0761681c65752e',
  4: '8004950d010000000000007d94288c04696e7473945d94284b004b014bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a0500000080008a07000000000000208a090000000000000000408a090000000000000000c0658c06666c6f617473945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c0473747273945d94288c00948c0161948c09c3a9e282acf09f988094658c046d697363945d94284e8889294b0185944b014b0286944b014b024b038794284b014b024b034b0474945d947d94658c066e6573746564947d948c016b945d94284b017d948c016a944b0285947365734b038c07696e74206b6579948c06736861726564945d94285d944b0761681c65752e',
  5: '8005950d010000000000007d94288c04696e7473945d94284b004b014bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a0500000080008a07000000000000208a090000000000000000408a090000000000000000c0658c06666c6f617473945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c0473747273945d94288c00948c0161948c09c3a9e282acf09f988094658c046d697363945d94284e8889294b0185944b014b0286944b014b024b038794284b014b024b034b0474945d947d94658c066e6573746564947d948c016b945d94284b017d948c016a944b0285947365734b038c07696e74206b6579948c06736861726564945d94285d944b0761681c65752e',
};

describe('unpickle: pickles written by CPython', () => {
  for (const [protocol, h] of Object.entries(PYTHON_PICKLES)) {
    it(`decodes protocol ${protocol}`, () => {
      const v = unpickle(hex(h), noGlobals) as Map<unknown, unknown>;
      expect(v).toBeInstanceOf(Map);
      expect([...v.keys()]).toEqual(['ints', 'floats', 'strs', 'misc', 'nested', 3, 'shared']);
      expect(v.get('ints')).toEqual([0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2n ** 53n, 2n ** 70n, -(2n ** 70n)]);
      expect(v.get('floats')).toEqual([0.5, -1e300, Infinity]);
      expect(v.get('strs')).toEqual(['', 'a', 'é€😀']);
      const misc = v.get('misc') as unknown[];
      expect(misc).toEqual([null, true, false, [], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4], [], new Map()]);
      // Tuples come back frozen, lists do not.
      expect(misc.slice(3, 9).map((x) => Object.isFrozen(x))).toEqual([true, true, true, true, true, false]);
      expect(v.get('nested')).toEqual(new Map([['k', [1, new Map([['j', [2]]])]]]));
      expect(v.get(3)).toBe('int key');
      const shared = v.get('shared') as unknown[][];
      expect(shared[0]).toBe(shared[1]); // one object, referenced twice through the memo
      expect(shared[0]).toEqual([7]);
    });
  }

  it('decodes protocol 0 text opcodes (MARK, LONG, TUPLE, PUT)', () => {
    // pickle.dumps((2**70, -2**70, 2**53 + 1), protocol=0)
    const bytes = new TextEncoder().encode('(L1180591620717411303424L\nL-1180591620717411303424L\nL9007199254740993L\ntp0\n.');
    expect(unpickle(bytes, noGlobals)).toEqual([2n ** 70n, -(2n ** 70n), 2n ** 53n + 1n]);
  });
});

describe('unpickle: damage and limits', () => {
  const bad = (h: string) => () => unpickle(hex(h), noGlobals);

  it('reports a pickle without STOP as truncated', () => {
    expect(bad('80024b01')).toThrow(/test\.pkl: malformed or unsupported pickle.*ends without a STOP/);
  });

  it('reports stack underflow', () => {
    expect(bad('800261')).toThrow(PytorchCheckpointError);
    expect(bad('800261')).toThrow(/byte 2 \(opcode APPEND\): stack underflow/);
  });

  it('reports reading an unset memo slot', () => {
    expect(bad('8002680539')).toThrow(/memo slot 5 is read before it is written/);
  });

  it('reports a length running past the end', () => {
    expect(bad('800258ffffff0061')).toThrow(/truncated/);
  });

  it('refuses protocols newer than 5', () => {
    expect(bad('80064e2e')).toThrow(/protocol 6 is newer/);
  });

  it('refuses unknown opcodes by name and code', () => {
    expect(bad('8002ff')).toThrow(/opcode unknown \(0xff\) is not supported/);
    expect(bad('8002972e')).toThrow(/opcode NEXT_BUFFER \(0x97\) is not supported/);
  });

  it('refuses REDUCE on a value that is not one of our callables', () => {
    // a string "called" with an empty tuple
    expect(bad('80024b01295258')).toThrow(/REDUCE applied to number 1, which is not something Kiln can call/);
  });

  it('calls only the stand-ins resolveGlobal hands out', () => {
    const calls: unknown[][] = [];
    const v = unpickle(hex('8002636d0a660a4b074b0886522e'), {
      ...noGlobals,
      resolveGlobal: (m, n) => (m === 'm' && n === 'f' ? new PyCallable('m.f', (args) => (calls.push([...args]), 'done')) : undefined),
    });
    expect(v).toBe('done');
    expect(calls).toEqual([[7, 8]]);
  });
});
