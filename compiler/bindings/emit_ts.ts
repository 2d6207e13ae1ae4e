/**
 * The TypeScript bindings emitter (`kiln compile --emit-ts`): from an entry bound to a config,
 * a TypeScript module whose types describe the entry's functions, built as a syntax tree with
 * the TypeScript compiler API's node factory and printed with its printer.
 *
 * What the module exports (names for a module entry `M` with function `forward`):
 * - `Config` (the module's parameters) and `config` (the values it was generated for);
 * - `WeightKey` (the union of state-dict keys) and `weightShapes` (key → shape);
 * - per function `ForwardInputs<...>` and `ForwardOutputs<...>`;
 * - `M`, the loaded module's interface, and `load(weights, opts)` returning it.
 * Free functions have no Config or weights: `load(opts)`.
 *
 * Shape typing (the choice is also written into every emitted module's header):
 * - a shape is a readonly tuple with one element per axis, so a wrong rank is a type error;
 * - an axis the config fixes is its numeric literal type (`in_channels = 4` gives `4`);
 * - a size variable (B, T, ...) is a type parameter `extends number` of the function, inferred
 *   from the inputs' shape literals: inputs that disagree on it are a type error, and outputs
 *   carry the same sizes; a pack `...S` is a tuple type parameter spread in place;
 * - any other axis (computed, `_`, or given by an int argument) is `number`, checked at run time.
 */
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { DTypeName } from '../../dsl/ast.ts';
import type { WeightSpec } from '../../dsl/session.ts';
import type { ModuleInstance } from '../../dsl/values.ts';
import type { Entry } from './entry.ts';
import { EntryError } from './errors.ts';
import {
  docComment, entryProblem, formatSigType, functionSignature, instanceScope, NO_CONFIG, spanText, valueType,
  type FunctionSig, type ParamSig, type SigDim, type ValueType,
} from './signature.ts';

const f = ts.factory;

export const DEFAULT_RUNTIME_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../runtime/bindings_runtime.ts');

export interface BindingsInput {
  readonly entry: Entry;
  /** The config the entry was bound with (JSON, as given). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The bound instance (module entries), for config values in shapes. */
  readonly instance?: ModuleInstance;
  readonly weights: readonly WeightSpec[];
  /** Absolute paths of the Kiln files the program was loaded from. */
  readonly sources: readonly string[];
  /** Absolute path the module will be written to: imports are made relative to it. */
  readonly outFile: string;
  /** The bindings runtime to import (default: this project's runtime/bindings_runtime.ts). */
  readonly runtimeFile?: string;
  /** The command that generated the module, for its header. */
  readonly generatedBy?: string;
}

export interface EmittedBindings {
  readonly text: string;
  /** Functions bound, and functions left out with the reason. */
  readonly functions: readonly string[];
  readonly skipped: readonly { name: string; reason: string }[];
}

/** Names the module itself uses; generated names avoid them. */
const RUNTIME_NS = 'kiln';
const MEMBER_NAMES = ['release', 'session'];
const TS_RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with as implements interface let package private ' +
    'protected public static yield any boolean number string symbol bigint object never unknown undefined await async type keyof infer ' +
    'readonly unique is asserts satisfies accessor of declare namespace module require global').split(' '),
);

export function emitBindings(input: BindingsInput): EmittedBindings {
  const { entry } = input;
  const scope = input.instance ? instanceScope(input.instance) : NO_CONFIG;
  const skipped: { name: string; reason: string }[] = [];
  const sigs: FunctionSig[] = [];
  for (const fn of entry.functions) {
    const problem = entryProblem(fn);
    if (problem) {
      if (fn === entry.fn && entry.functions.length === 1) throw new EntryError(`cannot emit bindings for ${entry.name}: ${problem}.`);
      skipped.push({ name: fn.name, reason: problem });
      continue;
    }
    if (MEMBER_NAMES.includes(fn.name)) {
      skipped.push({ name: fn.name, reason: `its name clashes with the bindings' own ${fn.name}` });
      continue;
    }
    sigs.push(functionSignature(fn, scope));
  }
  if (!sigs.length) throw new EntryError(`cannot emit bindings for ${entry.name}: none of its functions can be called from outside Kiln (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}).`);

  const names = new NameTable();
  const isModule = entry.kind === 'module';
  const hasWeights = input.weights.length > 0;
  const modelName = names.claim(isModule ? entry.moduleName : pascal(entry.fn.name), 'Model');
  const perFn = sigs.map((sig) => ({
    sig,
    inputs: names.claim(`${pascal(sig.name)}Inputs`, '_'),
    outputs: names.claim(`${pascal(sig.name)}Outputs`, '_'),
    typeParams: typeParamNames(sig),
  }));

  const statements: ts.Statement[] = [];
  const importDecl = f.createImportDeclaration(
    undefined,
    f.createImportClause(undefined, undefined, f.createNamespaceImport(f.createIdentifier(RUNTIME_NS))),
    f.createStringLiteral(relativeImport(input.outFile, input.runtimeFile ?? DEFAULT_RUNTIME_FILE)),
  );
  statements.push(doc(importDecl, headerDoc(input, sigs, skipped)));
  if (isModule) {
    statements.push(...configDecls(input));
    statements.push(...weightDecls(input.weights));
  }
  for (const p of perFn) {
    statements.push(inputsInterface(p.sig, p.inputs, p.typeParams));
    statements.push(outputsInterface(p.sig, p.outputs, p.typeParams));
  }
  statements.push(modelInterface(input, modelName, perFn));
  statements.push(specDecl(input, sigs));
  statements.push(loadDecl(modelName, perFn, hasWeights));

  const file = ts.createSourceFile('bindings.ts', '', ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
  const text = statements.map((s) => printer.printNode(ts.EmitHint.Unspecified, s, file)).join('\n\n');
  return { text: `${twoSpaceIndent(text)}\n`, functions: sigs.map((s) => s.name), skipped };
}

// ------------------------------------------------------------------ names

class NameTable {
  private readonly used = new Set<string>([RUNTIME_NS, 'Config', 'config', 'WeightKey', 'weightShapes', 'spec', 'load']);

  claim(wanted: string, suffix: string): string {
    let name = wanted;
    while (this.used.has(name) || TS_RESERVED.has(name)) name += suffix;
    this.used.add(name);
    return name;
  }
}

const pascal = (s: string): string => s.split(/_+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('') || 'Fn';

/** Kiln size variable / pack name → TypeScript type parameter name. */
function typeParamNames(sig: FunctionSig): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>([RUNTIME_NS]);
  for (const k of [...sig.sizes, ...sig.packs]) {
    let n = k;
    while (TS_RESERVED.has(n) || taken.has(n)) n += '_';
    taken.add(n);
    out.set(k, n);
  }
  return out;
}

function relativeImport(fromFile: string, target: string): string {
  let rel = relative(dirname(fromFile), target).split(sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

// ------------------------------------------------------------------ doc comments

/** Attach a JSDoc comment (the printer indents its lines with the node). */
function doc<T extends ts.Node>(node: T, text: string | undefined): T {
  if (!text) return node;
  const lines = text.replace(/\*\//g, '*\\/').split('\n');
  const body = lines.map((l) => `\n *${l ? ` ${l}` : ''}`).join('');
  return ts.addSyntheticLeadingComment(node, ts.SyntaxKind.MultiLineCommentTrivia, `*${body}\n `, true);
}

/** The printer indents by four spaces; the project writes two. */
function twoSpaceIndent(text: string): string {
  return text.replace(/^( +)/gm, (m) => ' '.repeat(Math.floor(m.length / 4) * 2 + (m.length % 4)));
}

const SHAPE_DOC = [
  'Shapes are readonly tuples with one element per axis, so a wrong rank is a type error.',
  'An axis fixed by the config is its numeric literal type (with in_channels = 4 the axis is `4`).',
  'A size variable of the Kiln signature (B, T, H, W, ...) is a type parameter `extends number` of',
  'the function: TypeScript infers it from the inputs\' shape literals, so inputs that disagree on',
  'it are a type error and the outputs carry the same sizes. A pack `...S` is a tuple type',
  'parameter spread in place. Any other axis (computed, or `_`) is `number`; the runtime checks it.',
  'Dtypes: f32 is a Float32Array, i32 an Int32Array, bool a Uint8Array of 0 and 1, each named by',
  'the tensor\'s `dtype` field (make them with kiln.tensor("f32", [1, 4, 8], data)).',
];

function headerDoc(input: BindingsInput, sigs: readonly FunctionSig[], skipped: readonly { name: string; reason: string }[]): string {
  const { entry } = input;
  const files = input.sources.map((s) => relativeImport(input.outFile, s)).join(', ');
  const what = entry.kind === 'module' ? `module ${entry.moduleName}` : `function ${entry.fn.name}`;
  const lines = [
    `Typed bindings for the Kiln ${what} (${files}), generated by ${input.generatedBy ? `\`${input.generatedBy}\`` : '`kiln compile --emit-ts`'}.`,
    'Regenerate rather than edit: the runtime refuses bindings whose functions no longer match the source.',
  ];
  const moduleDoc = entry.module ? docComment(entry.module) : undefined;
  if (moduleDoc) lines.push('', ...moduleDoc.split('\n'));
  lines.push('', `Functions: ${sigs.map((s) => s.name).join(', ')}.`);
  if (skipped.length) lines.push(`Not bound: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
  lines.push('', ...SHAPE_DOC);
  return lines.join('\n');
}

// ------------------------------------------------------------------ types

const exportMod = (): ts.ModifierToken<ts.SyntaxKind.ExportKeyword>[] => [f.createModifier(ts.SyntaxKind.ExportKeyword)];
const readonlyMod = (): ts.ModifierToken<ts.SyntaxKind.ReadonlyKeyword>[] => [f.createModifier(ts.SyntaxKind.ReadonlyKeyword)];
const kw = (k: ts.KeywordTypeSyntaxKind): ts.KeywordTypeNode => f.createKeywordTypeNode(k);
const ref = (name: string, args?: readonly ts.TypeNode[]): ts.TypeReferenceNode => f.createTypeReferenceNode(name, args && args.length ? args : undefined);
const kilnRef = (name: string, args?: readonly ts.TypeNode[]): ts.TypeReferenceNode =>
  f.createTypeReferenceNode(f.createQualifiedName(f.createIdentifier(RUNTIME_NS), name), args && args.length ? args : undefined);
const numberLiteralType = (n: number): ts.LiteralTypeNode =>
  f.createLiteralTypeNode(n < 0 ? f.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, f.createNumericLiteral(-n)) : f.createNumericLiteral(n));
const readonlyTuple = (elems: readonly ts.TypeNode[]): ts.TypeNode =>
  f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, ts.setEmitFlags(f.createTupleTypeNode(elems), ts.EmitFlags.SingleLine));
const propName = (name: string): ts.PropertyName => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? f.createIdentifier(name) : f.createStringLiteral(name));

function dimType(d: SigDim, tp: ReadonlyMap<string, string>): ts.TypeNode {
  switch (d.kind) {
    case 'const': return numberLiteralType(d.value);
    case 'size': return ref(tp.get(d.name)!);
    case 'pack': return f.createRestTypeNode(ref(tp.get(d.name)!));
    case 'expr': return kw(ts.SyntaxKind.NumberKeyword);
  }
}

function tensorType(dtype: DTypeName, dims: readonly SigDim[], tp: ReadonlyMap<string, string>): ts.TypeNode {
  return kilnRef('Tensor', [f.createLiteralTypeNode(f.createStringLiteral(dtype)), readonlyTuple(dims.map((d) => dimType(d, tp)))]);
}

function valueTypeNode(t: ValueType): ts.TypeNode {
  switch (t.kind) {
    case 'int': case 'float': return kw(ts.SyntaxKind.NumberKeyword);
    case 'bool': return kw(ts.SyntaxKind.BooleanKeyword);
    case 'str': return kw(ts.SyntaxKind.StringKeyword);
    case 'list': {
      const elem = valueTypeNode(t.elem);
      if (t.length !== undefined) return readonlyTuple(Array.from({ length: t.length }, () => valueTypeNode(t.elem)));
      return f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, f.createArrayTypeNode(elem));
    }
    case 'other': return kw(ts.SyntaxKind.UnknownKeyword);
  }
}

function typeParamDecls(sig: FunctionSig, tp: ReadonlyMap<string, string>): ts.TypeParameterDeclaration[] {
  const num = () => kw(ts.SyntaxKind.NumberKeyword);
  return [
    ...sig.sizes.map((s) => f.createTypeParameterDeclaration(undefined, tp.get(s)!, num(), num())),
    ...sig.packs.map((s) => f.createTypeParameterDeclaration(undefined, tp.get(s)!,
      f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, f.createArrayTypeNode(num())), f.createArrayTypeNode(num()))),
  ];
}

const typeArgs = (sig: FunctionSig, tp: ReadonlyMap<string, string>): ts.TypeNode[] => [...sig.sizes, ...sig.packs].map((s) => ref(tp.get(s)!));

/** `x: f32[B, in_channels, T]`, and the type with the config filled in when that differs. */
function typeDoc(name: string, declared: string, concrete: string): string {
  const same = concrete.replace(/\s/g, '') === declared.replace(/\s/g, '');
  return `${name}: ${declared}${same ? '' : ` (with this config: ${concrete})`}`;
}

function paramDoc(p: ParamSig): string {
  if (p.kind === 'value') {
    return `${p.name}: ${p.declared}${p.defaultText ? ` = ${p.defaultText}` : ''}`;
  }
  return `${typeDoc(p.name, p.declared, formatSigType(p.dtype, p.dims))}${p.defaultText ? ` = ${p.defaultText} (optional)` : ''}`;
}

function inputsInterface(sig: FunctionSig, name: string, tp: ReadonlyMap<string, string>): ts.Statement {
  const members = sig.params.map((p) => doc(
    f.createPropertySignature(readonlyMod(), propName(p.name), p.optional ? f.createToken(ts.SyntaxKind.QuestionToken) : undefined,
      p.kind === 'tensor' ? tensorType(p.dtype, p.dims, tp) : valueTypeNode(p.type)),
    paramDoc(p),
  ));
  const lines = [`The inputs of ${sig.name}, by parameter name: \`${sig.declared}\`.`];
  if (sig.constraints.length) lines.push(`Constraints (checked when called): ${sig.constraints.join(', ')}.`);
  return doc(f.createInterfaceDeclaration(exportMod(), name, typeParamDecls(sig, tp), undefined, members), lines.join('\n'));
}

function outputsInterface(sig: FunctionSig, name: string, tp: ReadonlyMap<string, string>): ts.Statement {
  let members: ts.TypeElement[];
  let text: string;
  if (sig.outputs) {
    members = sig.outputs.map((o) => doc(
      f.createPropertySignature(readonlyMod(), propName(o.name), undefined, tensorType(o.dtype, o.dims, tp)),
      typeDoc(o.name, o.declared, formatSigType(o.dtype, o.dims)),
    ));
    text = `The outputs of ${sig.name}, by name.`;
  } else {
    members = [f.createIndexSignature(readonlyMod(), [f.createParameterDeclaration(undefined, undefined, 'name', undefined, kw(ts.SyntaxKind.StringKeyword))], kilnRef('Tensor'))];
    text = `The outputs of ${sig.name}: it declares no result type, so their names and shapes are known only when it is called.`;
  }
  return doc(f.createInterfaceDeclaration(exportMod(), name, typeParamDecls(sig, tp), undefined, members), text);
}

interface BoundFn {
  readonly sig: FunctionSig;
  readonly inputs: string;
  readonly outputs: string;
  readonly typeParams: ReadonlyMap<string, string>;
}

const promiseOf = (t: ts.TypeNode): ts.TypeNode => ref('Promise', [t]);

function fnDoc(sig: FunctionSig): string {
  return [sig.doc, `\`${sig.declared}\``].filter(Boolean).join('\n\n');
}

function modelInterface(input: BindingsInput, name: string, fns: readonly BoundFn[]): ts.Statement {
  const members: ts.TypeElement[] = fns.map((b) => doc(
    f.createMethodSignature(undefined, b.sig.name, undefined, typeParamDecls(b.sig, b.typeParams),
      [f.createParameterDeclaration(undefined, undefined, 'inputs', undefined, ref(b.inputs, typeArgs(b.sig, b.typeParams)))],
      promiseOf(ref(b.outputs, typeArgs(b.sig, b.typeParams)))),
    fnDoc(b.sig),
  ));
  members.push(doc(f.createMethodSignature(undefined, 'release', undefined, undefined, [], promiseOf(kw(ts.SyntaxKind.VoidKeyword))),
    'Closes a checkpoint opened from a path, and releases the GPU device if load() opened it.'));
  members.push(doc(f.createPropertySignature(readonlyMod(), 'session', undefined, kilnRef('ModelSession')),
    'The ModelSession behind these bindings (memory plans, profiles, raw calls).'));
  const what = input.entry.kind === 'module' ? `${input.entry.moduleName}, bound to \`config\`` : `The function ${input.entry.fn.name}`;
  return doc(f.createInterfaceDeclaration(exportMod(), name, undefined, undefined, members), `${what}, loaded and ready to call.`);
}

// ------------------------------------------------------------------ values

function jsonExpr(v: unknown): ts.Expression {
  if (v === null || v === undefined) return f.createNull();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return f.createIdentifier(Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
    return v < 0 ? f.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, f.createNumericLiteral(-v)) : f.createNumericLiteral(v);
  }
  if (typeof v === 'string') return f.createStringLiteral(v);
  if (typeof v === 'boolean') return v ? f.createTrue() : f.createFalse();
  if (Array.isArray(v)) return f.createArrayLiteralExpression(v.map(jsonExpr), false);
  const entries = Object.entries(v as Record<string, unknown>);
  return f.createObjectLiteralExpression(entries.map(([k, x]) => f.createPropertyAssignment(propName(k), jsonExpr(x))), entries.length > 0);
}

const constDecl = (name: string, type: ts.TypeNode | undefined, init: ts.Expression, exported = true): ts.VariableStatement =>
  f.createVariableStatement(exported ? exportMod() : undefined,
    f.createVariableDeclarationList([f.createVariableDeclaration(name, undefined, type, init)], ts.NodeFlags.Const));

function configDecls(input: BindingsInput): ts.Statement[] {
  const decl = input.entry.module!;
  const members = decl.params.map((p) => doc(
    f.createPropertySignature(readonlyMod(), propName(p.name), p.default ? f.createToken(ts.SyntaxKind.QuestionToken) : undefined,
      p.type.kind === 'type_tensor' ? kw(ts.SyntaxKind.UnknownKeyword) : valueTypeNode(valueType(p.type))),
    `${p.name}: ${spanText(p.type.span)}${p.default ? ` = ${spanText(p.default.span)}` : ''}`,
  ));
  return [
    doc(f.createInterfaceDeclaration(exportMod(), 'Config', undefined, undefined, members), `The parameters of module ${decl.name}.`),
    doc(constDecl('config', ref('Config'), jsonExpr(input.config)), 'The config these bindings were generated for: shapes and weight keys below follow from it.'),
  ];
}

function weightDecls(weights: readonly WeightSpec[]): ts.Statement[] {
  const union = weights.length
    ? f.createUnionTypeNode(weights.map((w) => f.createLiteralTypeNode(f.createStringLiteral(w.key))))
    : kw(ts.SyntaxKind.NeverKeyword);
  const shapes = f.createObjectLiteralExpression(weights.map((w) => f.createPropertyAssignment(f.createStringLiteral(w.key), jsonExpr(w.shape))), weights.length > 0);
  return [
    doc(f.createTypeAliasDeclaration(exportMod(), 'WeightKey', undefined, union), `The state-dict keys of the module with \`config\` (${weights.length} tensors).`),
    doc(constDecl('weightShapes', undefined, f.createAsExpression(shapes, ref('const'))), 'The shape of every weight, by key.'),
  ];
}

function specDecl(input: BindingsInput, sigs: readonly FunctionSig[]): ts.Statement {
  const importMetaUrl = f.createPropertyAccessExpression(f.createMetaProperty(ts.SyntaxKind.ImportKeyword, f.createIdentifier('meta')), 'url');
  const sources = input.sources.map((s) => f.createNewExpression(f.createIdentifier('URL'), undefined, [f.createStringLiteral(relativeImport(input.outFile, s)), importMetaUrl]));
  const functions = f.createObjectLiteralExpression(sigs.map((s) => f.createPropertyAssignment(propName(s.name), jsonExpr(s.params.map((p) => p.name)))), true);
  const spec = f.createObjectLiteralExpression([
    f.createPropertyAssignment('sources', f.createArrayLiteralExpression(sources, false)),
    f.createPropertyAssignment('entry', f.createStringLiteral(input.entry.name)),
    input.entry.kind === 'module' ? f.createShorthandPropertyAssignment('config') : f.createPropertyAssignment('config', f.createObjectLiteralExpression()),
    f.createPropertyAssignment('functions', functions),
  ], true);
  return constDecl('spec', kilnRef('BindingSpec'), spec, false);
}

function loadDecl(modelName: string, fns: readonly BoundFn[], hasWeights: boolean): ts.Statement {
  const binding = f.createIdentifier('binding');
  const methods: ts.ObjectLiteralElementLike[] = fns.map((b) => {
    const outputs = ref(b.outputs, typeArgs(b.sig, b.typeParams));
    const call = f.createCallExpression(f.createPropertyAccessExpression(binding, 'call'), [outputs],
      [f.createStringLiteral(b.sig.name), f.createIdentifier('inputs')]);
    return f.createMethodDeclaration(undefined, undefined, b.sig.name, undefined, typeParamDecls(b.sig, b.typeParams),
      [f.createParameterDeclaration(undefined, undefined, 'inputs', undefined, ref(b.inputs, typeArgs(b.sig, b.typeParams)))],
      promiseOf(ref(b.outputs, typeArgs(b.sig, b.typeParams))),
      f.createBlock([f.createReturnStatement(call)], true));
  });
  methods.push(f.createPropertyAssignment('release', f.createArrowFunction(undefined, undefined, [], undefined, undefined,
    f.createCallExpression(f.createPropertyAccessExpression(binding, 'release'), undefined, []))));
  methods.push(f.createPropertyAssignment('session', f.createPropertyAccessExpression(binding, 'session')));

  const optsParam = f.createParameterDeclaration(undefined, undefined, 'opts', undefined, kilnRef('LoadOptions'), f.createObjectLiteralExpression());
  const params = hasWeights
    ? [f.createParameterDeclaration(undefined, undefined, 'weights', undefined, kilnRef('Weights', [ref('WeightKey')])), optsParam]
    : [optsParam];
  const loadCall = f.createAwaitExpression(f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier(RUNTIME_NS), 'loadBinding'), undefined,
    [f.createIdentifier('spec'), hasWeights ? f.createIdentifier('weights') : f.createIdentifier('undefined'), f.createIdentifier('opts')]));
  const body = f.createBlock([
    f.createVariableStatement(undefined, f.createVariableDeclarationList([f.createVariableDeclaration(binding, undefined, undefined, loadCall)], ts.NodeFlags.Const)),
    f.createReturnStatement(f.createObjectLiteralExpression(methods, true)),
  ], true);
  const fn = f.createFunctionDeclaration([...exportMod(), f.createModifier(ts.SyntaxKind.AsyncKeyword)], undefined, 'load', undefined, params,
    promiseOf(ref(modelName)), body);
  const text = hasWeights
    ? [
      'Loads the module: binds it to `config`, checks `weights` against its key space (every missing, unexpected',
      'and mis-shaped key is reported at once) and returns its functions. `weights` is a checkpoint path (safetensors,',
      'sharded, PyTorch), a weight source, or the tensors by key. Options: backend (`webgpu`, default, or `interp`),',
      'device, fuse, allowUnexpected.',
    ].join('\n')
    : 'Loads the functions. Options: backend (`webgpu`, default, or `interp`), device, fuse.';
  return doc(fn, text);
}
