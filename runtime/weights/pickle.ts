/**
 * A restricted unpickler: it decodes the pickle opcodes of protocols 0–5 that torch checkpoints
 * use into plain values, and never imports or calls anything of Python's. Value mapping:
 * None → null, bool → boolean, int → number (bigint outside ±(2^53 − 1)), float → number,
 * str → string, bytes → Uint8Array, list → array, tuple → frozen array, dict → Map,
 * set/frozenset → Set.
 *
 * Every GLOBAL (and INST) goes through the caller's `resolveGlobal`, which returns a
 * stand-in value from its allowlist or undefined; undefined is refused at once with a
 * PickleSecurityError, before any later opcode runs. The only things REDUCE, NEWOBJ and OBJ
 * can call are PyCallable stand-ins the caller created, i.e. the caller's own functions.
 */
import { PickleSecurityError, PytorchCheckpointError } from './errors.ts';

/** A callable stand-in for an allowed Python global: our function, never Python's. */
export class PyCallable {
  constructor(readonly qualname: string, readonly call: (args: readonly unknown[]) => unknown) {}
}

export interface UnpickleOptions {
  /** Names the pickle in messages, e.g. "model.pt (entry archive/data.pkl)". */
  readonly label: string;
  /** The file name used in security refusals: "refusing to load <file>: ...". */
  readonly file: string;
  /** The stand-in for an allowed `module.name`, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): unknown;
  /** Turns a persistent id (BINPERSID/PERSID) into a value; throw to refuse. */
  persistentLoad?(pid: unknown): unknown;
  /** Applies BUILD's state to an object; throw to refuse. Default: refuse. */
  build?(obj: unknown, state: unknown): void;
}

/** Opcode names, for messages about opcodes we do not run. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const HIGHEST_PROTOCOL = 5;
// Python ints longer than this are not tensor metadata; refusing them bounds the work per opcode.
const MAX_LONG_BYTES = 1 << 16;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  return new Unpickler(bytes, opts).run();
}

export function securityRefusal(file: string, module: string, name: string): PickleSecurityError {
  return new PickleSecurityError(
    `refusing to load ${file}: it references the Python global ${module}.${name}, which Kiln never runs; only tensors and plain containers are allowed. ` +
      'If you trust the file, load it in Python and save just the tensors (torch.save(model.state_dict(), path), or safetensors).',
  );
}

class Unpickler {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  private opStart = 0;

  constructor(private readonly bytes: Uint8Array, private readonly opts: UnpickleOptions) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): unknown {
    for (;;) {
      if (this.pos >= this.bytes.length) this.fail('the pickle ends without a STOP opcode; it is truncated');
      this.opStart = this.pos;
      const op = this.bytes[this.pos++];
      if (op === 0x2e) {
        // STOP
        if (this.stack.length !== 1 || this.marks.length) this.fail(`STOP with ${this.stack.length} values on the stack (expected exactly 1)`);
        return this.stack[0];
      }
      this.step(op);
    }
  }

  private step(op: number): void {
    const s = this.stack;
    switch (op) {
      case 0x80: { // PROTO
        const v = this.u8();
        if (v > HIGHEST_PROTOCOL) this.fail(`pickle protocol ${v} is newer than the highest Kiln reads (${HIGHEST_PROTOCOL})`);
        return;
      }
      case 0x95: this.take(8); return; // FRAME: framing is only a read-ahead hint
      case 0x28: this.marks.push(s.length); return; // MARK
      case 0x30: { // POP: with nothing above the last MARK, Python drops the mark itself
        if (this.marks.length && s.length === this.marks[this.marks.length - 1]) this.popMark();
        else this.pop();
        return;
      }
      case 0x31: this.popMark(); return; // POP_MARK
      case 0x32: s.push(this.top()); return; // DUP

      case 0x4e: s.push(null); return; // NONE
      case 0x88: s.push(true); return; // NEWTRUE
      case 0x89: s.push(false); return; // NEWFALSE
      case 0x4a: s.push(this.view.getInt32(this.advance(4), true)); return; // BININT
      case 0x4b: s.push(this.u8()); return; // BININT1
      case 0x4d: s.push(this.view.getUint16(this.advance(2), true)); return; // BININT2
      case 0x8a: s.push(this.long(this.u8())); return; // LONG1
      case 0x8b: { // LONG4
        const n = this.view.getInt32(this.advance(4), true);
        if (n < 0 || n > MAX_LONG_BYTES) this.fail(`LONG4 of ${n} bytes (at most ${MAX_LONG_BYTES} accepted)`);
        s.push(this.long(n));
        return;
      }
      case 0x49: s.push(this.textInt(this.line())); return; // INT
      case 0x4c: s.push(this.textInt(this.line().replace(/L$/, ''))); return; // LONG
      case 0x46: { // FLOAT
        const text = this.line();
        const v = Number(text);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(text)) this.fail(`FLOAT ${JSON.stringify(text)} is not a number`);
        s.push(v);
        return;
      }
      case 0x47: s.push(this.view.getFloat64(this.advance(8), false)); return; // BINFLOAT (big-endian)

      case 0x58: s.push(utf8.decode(this.take(this.view.getUint32(this.advance(4), true)))); return; // BINUNICODE
      case 0x8c: s.push(utf8.decode(this.take(this.u8()))); return; // SHORT_BINUNICODE
      case 0x8d: s.push(utf8.decode(this.take(this.u64()))); return; // BINUNICODE8
      // Python 2 str; torch.load decodes these as UTF-8 too.
      case 0x54: s.push(utf8.decode(this.take(this.nonNegative(this.view.getInt32(this.advance(4), true))))); return; // BINSTRING
      case 0x55: s.push(utf8.decode(this.take(this.u8()))); return; // SHORT_BINSTRING
      case 0x42: s.push(this.take(this.view.getUint32(this.advance(4), true)).slice()); return; // BINBYTES
      case 0x43: s.push(this.take(this.u8()).slice()); return; // SHORT_BINBYTES
      case 0x8e: s.push(this.take(this.u64()).slice()); return; // BINBYTES8
      case 0x96: s.push(this.take(this.u64()).slice()); return; // BYTEARRAY8

      case 0x29: s.push(Object.freeze([])); return; // EMPTY_TUPLE
      case 0x85: s.push(Object.freeze(this.popN(1))); return; // TUPLE1
      case 0x86: s.push(Object.freeze(this.popN(2))); return; // TUPLE2
      case 0x87: s.push(Object.freeze(this.popN(3))); return; // TUPLE3
      case 0x74: s.push(Object.freeze(this.popMark())); return; // TUPLE
      case 0x5d: s.push([]); return; // EMPTY_LIST
      case 0x6c: s.push(this.popMark()); return; // LIST
      case 0x7d: s.push(new Map()); return; // EMPTY_DICT
      case 0x64: s.push(this.pairsInto(new Map(), this.popMark())); return; // DICT
      case 0x8f: s.push(new Set()); return; // EMPTY_SET
      case 0x91: s.push(new Set(this.popMark())); return; // FROZENSET

      case 0x61: { // APPEND
        const v = this.pop();
        this.listOnTop('APPEND').push(v);
        return;
      }
      case 0x65: { // APPENDS
        const items = this.popMark();
        this.listOnTop('APPENDS').push(...items);
        return;
      }
      case 0x73: { // SETITEM
        const v = this.pop();
        const k = this.pop();
        this.dictOnTop('SETITEM').set(k, v);
        return;
      }
      case 0x75: { // SETITEMS
        const items = this.popMark();
        this.pairsInto(this.dictOnTop('SETITEMS'), items);
        return;
      }
      case 0x90: { // ADDITEMS
        const items = this.popMark();
        const set = this.top();
        if (!(set instanceof Set)) this.fail('ADDITEMS on a value that is not a set');
        for (const v of items) (set as Set<unknown>).add(v);
        return;
      }

      case 0x71: this.memo.set(this.u8(), this.top()); return; // BINPUT
      case 0x72: this.memo.set(this.view.getUint32(this.advance(4), true), this.top()); return; // LONG_BINPUT
      case 0x94: this.memo.set(this.memo.size, this.top()); return; // MEMOIZE
      case 0x70: this.memo.set(this.memoIndex(this.line()), this.top()); return; // PUT
      case 0x68: s.push(this.memoGet(this.u8())); return; // BINGET
      case 0x6a: s.push(this.memoGet(this.view.getUint32(this.advance(4), true))); return; // LONG_BINGET
      case 0x67: s.push(this.memoGet(this.memoIndex(this.line()))); return; // GET

      case 0x63: { // GLOBAL
        const module = this.line();
        const name = this.line();
        s.push(this.global(module, name));
        return;
      }
      case 0x93: { // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings (module, name) on the stack');
        s.push(this.global(module as string, name as string));
        return;
      }
      case 0x69: { // INST: a GLOBAL and a call in one opcode
        const module = this.line();
        const name = this.line();
        const cls = this.global(module, name);
        s.push(this.call(cls, this.popMark(), 'INST'));
        return;
      }
      case 0x6f: { // OBJ
        const [cls, ...args] = this.popMark();
        s.push(this.call(cls, args, 'OBJ'));
        return;
      }
      case 0x52: { // REDUCE
        const args = this.pop();
        const fn = this.pop();
        if (!Array.isArray(args)) this.fail('REDUCE needs an argument tuple');
        s.push(this.call(fn, args as unknown[], 'REDUCE'));
        return;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args); our stand-ins build the value directly
        const args = this.pop();
        const cls = this.pop();
        if (!Array.isArray(args)) this.fail('NEWOBJ needs an argument tuple');
        s.push(this.call(cls, args as unknown[], 'NEWOBJ'));
        return;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        if (!Array.isArray(args) || !(kwargs instanceof Map)) this.fail('NEWOBJ_EX needs an argument tuple and a keyword dict');
        if ((kwargs as Map<unknown, unknown>).size) this.fail('NEWOBJ_EX with keyword arguments is not supported');
        s.push(this.call(cls, args as unknown[], 'NEWOBJ_EX'));
        return;
      }
      case 0x62: { // BUILD
        const state = this.pop();
        const obj = this.top();
        if (!this.opts.build) this.fail('BUILD (setting object state) is not allowed here');
        this.opts.build!(obj, state);
        return;
      }
      case 0x51: s.push(this.persistent(this.pop())); return; // BINPERSID
      case 0x50: s.push(this.persistent(this.line())); return; // PERSID

      case 0x82: case 0x83: case 0x84: // EXT1/2/4 name globals through Python's copyreg registry
        this.fail(`opcode ${OPCODE_NAMES[op]} refers to a Python global through the extension registry, which Kiln does not resolve`);
        break;
      default:
        this.fail(`opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')}) is not supported`);
    }
  }

  private global(module: string, name: string): unknown {
    const v = this.opts.resolveGlobal(module, name);
    if (v === undefined) throw securityRefusal(this.opts.file, module, name);
    return v;
  }

  private call(fn: unknown, args: readonly unknown[], opName: string): unknown {
    if (!(fn instanceof PyCallable)) this.fail(`${opName} applied to ${describe(fn)}, which is not something Kiln can call`);
    return (fn as PyCallable).call(args);
  }

  private persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) this.fail('persistent ids are not allowed here');
    return this.opts.persistentLoad!(pid);
  }

  private pairsInto(map: Map<unknown, unknown>, items: unknown[]): Map<unknown, unknown> {
    if (items.length % 2) this.fail('a dict was given an odd number of keys and values');
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  }

  private listOnTop(opName: string): unknown[] {
    const list = this.top();
    if (!Array.isArray(list) || Object.isFrozen(list)) this.fail(`${opName} on ${describe(list)}, which is not a list`);
    return list as unknown[];
  }

  private dictOnTop(opName: string): Map<unknown, unknown> {
    const dict = this.top();
    if (!(dict instanceof Map)) this.fail(`${opName} on ${describe(dict)}, which is not a dict`);
    return dict as Map<unknown, unknown>;
  }

  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo slot ${i} is read before it is written`);
    return this.memo.get(i);
  }

  private memoIndex(text: string): number {
    const i = Number(text);
    if (!Number.isSafeInteger(i) || i < 0) this.fail(`memo index ${JSON.stringify(text)} is not a non-negative integer`);
    return i;
  }

  private textInt(text: string): number | bigint | boolean {
    // Protocol 0 spells booleans as INT 01 / 00.
    if (text === '01') return true;
    if (text === '00') return false;
    if (!/^[-+]?\d+$/.test(text)) this.fail(`INT ${JSON.stringify(text)} is not an integer`);
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  /** A little-endian two's-complement integer of n bytes. */
  private long(n: number): number | bigint {
    const b = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private popMark(): unknown[] {
    const at = this.marks.pop();
    if (at === undefined) this.fail('an opcode needs a MARK that was never set');
    if (at! > this.stack.length) this.fail('the stack is shorter than at its MARK');
    return this.stack.splice(at!);
  }

  private pop(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack.pop();
  }

  private popN(n: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.unshift(this.pop());
    return out;
  }

  private top(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private u8(): number {
    return this.bytes[this.advance(1)];
  }

  private u64(): number {
    const v = this.view.getBigUint64(this.advance(8), true);
    if (v > BigInt(this.bytes.length)) this.fail(`a length of ${v} bytes runs past the end of the pickle`);
    return Number(v);
  }

  private nonNegative(n: number): number {
    if (n < 0) this.fail(`negative length ${n}`);
    return n;
  }

  /** Moves past n bytes and returns where they start. */
  private advance(n: number): number {
    if (this.pos + n > this.bytes.length) this.fail('the pickle is truncated');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private take(n: number): Uint8Array {
    const at = this.advance(n);
    return this.bytes.subarray(at, at + n);
  }

  /** A newline-terminated ASCII argument (protocol 0 style). */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('the pickle is truncated (a text argument has no newline)');
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  private fail(msg: string): never {
    const op = this.bytes[this.opStart];
    const name = OPCODE_NAMES[op] ?? `0x${op?.toString(16)}`;
    throw new PytorchCheckpointError(`${this.opts.label}: malformed or unsupported pickle at byte ${this.opStart} (opcode ${name}): ${msg}.`);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyCallable) return v.qualname;
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'a tuple' : 'a list';
  if (v instanceof Map) return 'a dict';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  const text = JSON.stringify(typeof v === 'bigint' ? String(v) : v) ?? String(v);
  return `${typeof v} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}
