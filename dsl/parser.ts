/**
 * Kiln's parser: chevrotain's embedded-actions parser building the AST of dsl/ast.ts directly.
 * Grammar notes, in brief (README has the user-facing version):
 *   file     := (import | module | fn | let)*            separated by line breaks
 *   module   := 'module' Name '(' params ')' '{' member* '}'
 *   member   := 'param' name ':' type | name '=' expr (submodule) | 'let' name '=' expr
 *             | fn | 'if' expr '{' member* '}' ['else' ...] | 'assert' expr [',' expr]
 *   fn       := 'fn' name '(' params ')' ['->' result] ['where' expr, ...] block
 *   block    := '{' (stmt (line break | ';'))* [expr] '}'   — the last expression is the value
 *   stmt     := 'let' pattern [':' type] '=' expr | name '=' expr | 'for' name 'in' expr block
 *             | 'assert' expr [',' expr] | expr
 * Expressions: if/else, or, and, not, comparisons (non-associative), `a..b` ranges, + -,
 * * / // % @, unary -, ** (right-assoc), postfix calls f(x, name: v), indexing x[a, b:c, ...],
 * member access a.b; literals, lists, comprehensions [e for i in r if c], tuples (a, b) and
 * named tuples (mean: m, logvar: l).
 */
import { EmbeddedActionsParser, EOF, type IToken, type TokenType, type IParserErrorMessageProvider } from 'chevrotain';
import type {
  Arg, Block, Constraint, Decl, DimExpr, Expr, FileAst, FnDecl, Member, ModuleDecl, Param, Pattern, ResultType, SliceItem,
  Stmt, TypeExpr, BinaryOp, DTypeName,
} from './ast.ts';
import { error } from './diagnostics.ts';
import { allTokens, FloatLit, Identifier, IntLit, Kw, Newline, P, StringLit, tokenize } from './lexer.ts';
import type { SourceFile, Span } from './source.ts';

const RULE_DESCRIPTIONS: Record<string, string> = {
  file: 'a declaration (import, module, fn or let)',
  decl: 'a declaration (import, module, fn or let)',
  member: 'a module member (param, submodule, let, fn, if or assert)',
  type: 'a type',
  dim: 'a dimension',
  dimAtom: 'a dimension',
  stmt: 'a statement',
  expr: 'an expression',
  primary: 'an expression',
  sliceItem: 'an index or a slice',
  pattern: 'a name or a tuple of names',
  paramList: "',' or ')' after a parameter",
  argList: "',' or ')' after an argument",
  parenExpr: "',' or ')'",
  listExpr: "',' or ']'",
  block: "a line break or ';' after the statement",
  memberBlock: "a line break or ';' after the member",
  fileRule: 'a line break after the declaration',
};

function describeRule(rule: string): string {
  return RULE_DESCRIPTIONS[rule] ?? (rule.endsWith('Expr') || rule === 'postfix' ? 'an expression' : rule);
}

function tokenText(t: IToken): string {
  if (t.tokenType === EOF) return 'end of file';
  if (t.tokenType === Newline) return 'end of line';
  return `'${t.image}'`;
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    return `expected ${expected.LABEL ?? expected.name} but found ${tokenText(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `unexpected ${tokenText(firstRedundant)}: expected a declaration (import, module, fn or let)`;
  },
  buildNoViableAltMessage({ actual, ruleName }) {
    return `unexpected ${tokenText(actual[0])}: expected ${describeRule(ruleName)}`;
  },
  buildEarlyExitMessage({ actual, ruleName }) {
    return `unexpected ${tokenText(actual[0])}: expected ${describeRule(ruleName)}`;
  },
};

const DTYPES: ReadonlySet<string> = new Set(['f32', 'f16', 'i32', 'bool']);
const SCALARS: ReadonlySet<string> = new Set(['int', 'float', 'bool', 'str']);

function unescape(lit: string): string {
  return lit.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t' } as Record<string, string>)[c] ?? c);
}

class KilnParser extends EmbeddedActionsParser {
  file!: SourceFile;

  constructor() {
    super(allTokens, { maxLookahead: 4, errorMessageProvider: messages });
    this.performSelfAnalysis();
  }

  private sp(a: IToken | Span, b?: IToken | Span): Span {
    const start = 'startOffset' in a ? a.startOffset : a.start;
    const endTok = b ?? a;
    const end = 'startOffset' in endTok ? (endTok.endOffset ?? endTok.startOffset) + 1 : endTok.end;
    return { file: this.file, start, end };
  }

  // ------------------------------------------------------------ separators

  private seps = this.RULE('seps', () => {
    this.MANY(() => this.OR([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(P.Semi) }]));
  });

  /** After an item: at least one separator, unless `closer` comes next. */
  private endOfItem(closer: TokenType): void {
    this.OR([
      { ALT: () => this.AT_LEAST_ONE(() => this.OR2([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(P.Semi) }])) },
      { GATE: () => this.LA(1).tokenType === closer, ALT: () => undefined },
    ]);
  }

  /**
   * Items separated by commas, with an optional trailing comma, up to (not including) `closer`.
   * Uses the indexed DSL methods so a rule can hold more than one list.
   */
  private commaList(idx: number, closer: TokenType, def: () => void): void {
    this.many(idx, () => {
      def();
      this.or(idx, [
        { ALT: () => { this.consume(idx, P.Comma); } },
        { GATE: () => this.LA(1).tokenType === closer, ALT: () => undefined },
      ]);
    });
  }

  // ------------------------------------------------------------ file and declarations

  fileRule = this.RULE('file', (): Decl[] => {
    const decls: Decl[] = [];
    this.SUBRULE(this.seps);
    this.MANY(() => {
      decls.push(this.SUBRULE(this.decl));
      this.endOfItem(EOF);
    });
    return decls;
  });

  private decl = this.RULE('decl', (): Decl => this.OR([
    { ALT: () => {
      const kw = this.CONSUME(Kw.import);
      const path = this.CONSUME(StringLit);
      return this.ACTION(() => ({ kind: 'import' as const, path: unescape(path.image), span: this.sp(kw, path) }));
    } },
    { ALT: () => this.SUBRULE(this.moduleDecl) },
    { ALT: () => this.SUBRULE(this.fnDecl) },
    { ALT: () => {
      const kw = this.CONSUME(Kw.let);
      const name = this.CONSUME(Identifier);
      this.CONSUME(P.Eq);
      const value = this.SUBRULE(this.expr);
      return this.ACTION(() => ({ kind: 'const' as const, name: name.image, nameSpan: this.sp(name), value, span: this.sp(kw, value.span) }));
    } },
  ]));

  private moduleDecl = this.RULE('moduleDecl', (): ModuleDecl => {
    const kw = this.CONSUME(Kw.module);
    const name = this.CONSUME(Identifier);
    this.CONSUME(P.LParen);
    const params = this.SUBRULE(this.paramList);
    this.CONSUME(P.RParen);
    const members = this.SUBRULE(this.memberBlock);
    return this.ACTION(() => ({ kind: 'module' as const, name: name.image, nameSpan: this.sp(name), params, members: members.members, span: this.sp(kw, members.span) }));
  });

  private memberBlock = this.RULE('memberBlock', (): { members: Member[]; span: Span } => {
    const lb = this.CONSUME(P.LBrace);
    const members: Member[] = [];
    this.SUBRULE(this.seps);
    this.MANY(() => {
      members.push(this.SUBRULE(this.member));
      this.endOfItem(P.RBrace);
    });
    const rb = this.CONSUME(P.RBrace);
    return this.ACTION(() => ({ members, span: this.sp(lb, rb) }));
  });

  private member = this.RULE('member', (): Member => this.OR([
    { ALT: () => {
      const kw = this.CONSUME(Kw.param);
      const name = this.CONSUME(Identifier);
      this.CONSUME(P.Colon);
      const type = this.SUBRULE(this.type);
      return this.ACTION(() => ({ kind: 'weight' as const, name: name.image, nameSpan: this.sp(name), type, span: this.sp(kw, type.span) }));
    } },
    { ALT: () => {
      const kw = this.CONSUME(Kw.let);
      const name = this.CONSUME2(Identifier);
      this.CONSUME(P.Eq);
      const value = this.SUBRULE(this.expr);
      return this.ACTION(() => ({ kind: 'let' as const, name: name.image, nameSpan: this.sp(name), value, span: this.sp(kw, value.span) }));
    } },
    { ALT: () => {
      const name = this.CONSUME3(Identifier);
      this.CONSUME2(P.Eq);
      const value = this.SUBRULE2(this.expr);
      return this.ACTION(() => ({ kind: 'submodule' as const, name: name.image, nameSpan: this.sp(name), value, span: this.sp(name, value.span) }));
    } },
    { ALT: () => this.SUBRULE(this.fnDecl) },
    { ALT: () => this.SUBRULE(this.memberIf) },
    { ALT: () => {
      const a = this.SUBRULE(this.assertStmt);
      return this.ACTION(() => ({ kind: 'assert' as const, cond: a.cond, message: a.message, span: a.span }));
    } },
  ]));

  private memberIf = this.RULE('memberIf', (): Member => {
    const kw = this.CONSUME(Kw.if);
    const cond = this.SUBRULE(this.expr);
    const then = this.SUBRULE(this.memberBlock);
    let elseMembers: Member[] = [];
    let end: Span = then.span;
    this.OPTION(() => {
      this.CONSUME(Kw.else);
      this.OR([
        { ALT: () => {
          const nested = this.SUBRULE2(this.memberIf);
          this.ACTION(() => { elseMembers = [nested]; end = nested.span; });
        } },
        { ALT: () => {
          const b = this.SUBRULE2(this.memberBlock);
          this.ACTION(() => { elseMembers = b.members; end = b.span; });
        } },
      ]);
    });
    return this.ACTION(() => ({ kind: 'member_if' as const, cond, then: then.members, else: elseMembers, span: this.sp(kw, end) }));
  });

  private fnDecl = this.RULE('fnDecl', (): FnDecl => {
    const kw = this.CONSUME(Kw.fn);
    const name = this.CONSUME(Identifier);
    this.CONSUME(P.LParen);
    const params = this.SUBRULE(this.paramList);
    this.CONSUME(P.RParen);
    let result: ResultType | undefined;
    this.OPTION(() => {
      this.CONSUME(P.Arrow);
      result = this.SUBRULE(this.resultType);
    });
    const constraints: Constraint[] = [];
    this.OPTION2(() => {
      this.CONSUME2(Identifier, { LABEL: "'where'" });
      this.ACTION(() => {
        const t = this.LA(0);
        if (t.image !== 'where') throw this.fail(`expected 'where' or '{' but found '${t.image}'`, this.sp(t));
      });
      this.AT_LEAST_ONE_SEP({
        SEP: P.Comma,
        DEF: () => {
          const e = this.SUBRULE(this.expr);
          this.ACTION(() => constraints.push({ expr: e, span: e.span }));
        },
      });
    });
    const body = this.SUBRULE(this.block);
    return this.ACTION(() => ({ kind: 'fn' as const, name: name.image, nameSpan: this.sp(name), params, result, constraints, body, span: this.sp(kw, body.span) }));
  });

  private paramList = this.RULE('paramList', (): Param[] => {
    const params: Param[] = [];
    this.commaList(1, P.RParen, () => {
      const name = this.CONSUME(Identifier);
      this.CONSUME(P.Colon);
      const type = this.SUBRULE(this.type);
      let def: Expr | undefined;
      this.OPTION(() => {
        this.CONSUME(P.Eq);
        def = this.SUBRULE(this.expr);
      });
      this.ACTION(() => params.push({ name: name.image, type, default: def, span: this.sp(name, def ? def.span : type.span) }));
    });
    return params;
  });

  private resultType = this.RULE('resultType', (): ResultType => this.OR([
    { ALT: () => {
      const lp = this.CONSUME(P.LParen);
      const items: ResultType['items'] = [];
      this.AT_LEAST_ONE_SEP({
        SEP: P.Comma,
        DEF: () => {
          let nameTok: IToken | undefined;
          this.OPTION(() => {
            nameTok = this.CONSUME(Identifier);
            this.CONSUME(P.Colon);
          });
          const type = this.SUBRULE(this.type);
          this.ACTION(() => items.push({ name: nameTok?.image, type, span: this.sp(nameTok ?? type.span, type.span) }));
        },
      });
      const rp = this.CONSUME(P.RParen);
      return this.ACTION(() => ({ items, tuple: true, span: this.sp(lp, rp) }));
    } },
    { ALT: () => {
      const type = this.SUBRULE2(this.type);
      return this.ACTION(() => ({ items: [{ type, span: type.span }], tuple: false, span: type.span }));
    } },
  ]));

  // ------------------------------------------------------------ types

  private type = this.RULE('type', (): TypeExpr => this.OR([
    { ALT: () => {
      const lb = this.CONSUME(P.LBracket);
      const elem = this.SUBRULE(this.type);
      let length: number | undefined;
      this.OPTION(() => {
        this.CONSUME(P.Semi);
        length = Number(this.CONSUME(IntLit).image);
      });
      const rb = this.CONSUME(P.RBracket);
      return this.ACTION(() => ({ kind: 'type_list' as const, elem, length, span: this.sp(lb, rb) }));
    } },
    { ALT: () => {
      const kw = this.CONSUME(Kw.module);
      return this.ACTION(() => ({ kind: 'type_module' as const, name: null, span: this.sp(kw) }));
    } },
    { ALT: () => {
      const name = this.CONSUME(Identifier);
      let dims: DimExpr[] | undefined;
      let rb: IToken | undefined;
      this.OPTION2(() => {
        this.CONSUME2(P.LBracket);
        dims = [];
        this.MANY_SEP({ SEP: P.Comma, DEF: () => { const d = this.SUBRULE(this.dim); this.ACTION(() => dims!.push(d)); } });
        rb = this.CONSUME2(P.RBracket);
      });
      return this.ACTION((): TypeExpr => {
        const span = this.sp(name, rb ?? name);
        if (dims) {
          if (!DTYPES.has(name.image)) {
            throw this.fail(`'${name.image}' is not a tensor dtype`, this.sp(name), 'tensor types are written f32[...], f16[...], i32[...] or bool[...]');
          }
          return { kind: 'type_tensor', dtype: name.image as DTypeName, dims, span };
        }
        if (SCALARS.has(name.image)) return { kind: 'type_scalar', name: name.image as 'int', span };
        if (DTYPES.has(name.image)) {
          throw this.fail(`tensor type '${name.image}' needs its dimensions`, span, `write e.g. ${name.image}[B, C] (use [] for a scalar tensor)`);
        }
        return { kind: 'type_module', name: name.image, span };
      });
    } },
  ]));

  private dim = this.RULE('dim', (): DimExpr => {
    let left = this.SUBRULE(this.dimMul);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(P.Plus) }, { ALT: () => this.CONSUME(P.Minus) }]);
      const right = this.SUBRULE2(this.dimMul);
      this.ACTION(() => { left = { kind: 'dim_bin', op: op.image as '+', left, right, span: this.sp(left.span, right.span) }; });
    });
    return left;
  });

  private dimMul = this.RULE('dimMul', (): DimExpr => {
    let left = this.SUBRULE(this.dimUnary);
    this.MANY(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(P.Star) },
        { ALT: () => this.CONSUME(P.SlashSlash) },
        { ALT: () => this.CONSUME(P.Slash) },
        { ALT: () => this.CONSUME(P.Percent) },
      ]);
      const right = this.SUBRULE2(this.dimUnary);
      this.ACTION(() => { left = { kind: 'dim_bin', op: op.image as '*', left, right, span: this.sp(left.span, right.span) }; });
    });
    return left;
  });

  private dimUnary = this.RULE('dimUnary', (): DimExpr => this.OR([
    { ALT: () => {
      const m = this.CONSUME(P.Minus);
      const operand = this.SUBRULE(this.dimUnary);
      return this.ACTION(() => ({ kind: 'dim_neg' as const, operand, span: this.sp(m, operand.span) }));
    } },
    { ALT: () => this.SUBRULE(this.dimAtom) },
  ]));

  private dimAtom = this.RULE('dimAtom', (): DimExpr => this.OR([
    { ALT: () => {
      const t = this.CONSUME(IntLit);
      return this.ACTION(() => ({ kind: 'dim_int' as const, value: Number(t.image), span: this.sp(t) }));
    } },
    { ALT: () => {
      const e = this.CONSUME(P.Ellipsis);
      const name = this.CONSUME(Identifier);
      return this.ACTION(() => ({ kind: 'dim_pack' as const, name: name.image, span: this.sp(e, name) }));
    } },
    { ALT: () => {
      const name = this.CONSUME2(Identifier);
      let index: DimExpr | undefined;
      let rb: IToken | undefined;
      this.OPTION(() => {
        this.CONSUME(P.LBracket);
        index = this.SUBRULE(this.dim);
        rb = this.CONSUME(P.RBracket);
      });
      return this.ACTION((): DimExpr => {
        if (index) return { kind: 'dim_index', name: name.image, index, span: this.sp(name, rb!) };
        if (name.image === '_') return { kind: 'dim_infer', span: this.sp(name) };
        return { kind: 'dim_sym', name: name.image, span: this.sp(name) };
      });
    } },
    { ALT: () => {
      const lp = this.CONSUME(P.LParen);
      const inner = this.SUBRULE2(this.dim);
      const rp = this.CONSUME(P.RParen);
      // The parentheses belong to the span, so quoted source (`(T // 2) * (H // 2)`) stays balanced.
      return this.ACTION(() => ({ ...inner, span: this.sp(lp, rp) }));
    } },
  ]));

  // ------------------------------------------------------------ statements

  block = this.RULE('block', (): Block => {
    const lb = this.CONSUME(P.LBrace);
    const stmts: Stmt[] = [];
    this.SUBRULE(this.seps);
    this.MANY(() => {
      stmts.push(this.SUBRULE(this.stmt));
      this.endOfItem(P.RBrace);
    });
    const rb = this.CONSUME(P.RBrace);
    return this.ACTION(() => {
      const last = stmts[stmts.length - 1];
      if (last && last.kind === 'expr') return { stmts: stmts.slice(0, -1), result: last.expr, span: this.sp(lb, rb) };
      return { stmts, span: this.sp(lb, rb) };
    });
  });

  private stmt = this.RULE('stmt', (): Stmt => this.OR([
    { ALT: () => {
      const kw = this.CONSUME(Kw.let);
      const pattern = this.SUBRULE(this.pattern);
      let type: TypeExpr | undefined;
      this.OPTION(() => {
        this.CONSUME(P.Colon);
        type = this.SUBRULE(this.type);
      });
      this.CONSUME(P.Eq);
      const value = this.SUBRULE(this.expr);
      return this.ACTION(() => ({ kind: 'let' as const, pattern, type, value, span: this.sp(kw, value.span) }));
    } },
    { ALT: () => {
      const kw = this.CONSUME(Kw.for);
      const v = this.CONSUME(Identifier);
      this.CONSUME(Kw.in);
      const iterable = this.SUBRULE2(this.expr);
      const body = this.SUBRULE(this.block);
      return this.ACTION(() => ({ kind: 'for' as const, variable: v.image, variableSpan: this.sp(v), iterable, body, span: this.sp(kw, body.span) }));
    } },
    { ALT: () => this.SUBRULE(this.assertStmt) },
    { GATE: () => this.LA(2).tokenType === P.Eq, ALT: () => {
      const name = this.CONSUME2(Identifier);
      this.CONSUME2(P.Eq);
      const value = this.SUBRULE3(this.expr);
      return this.ACTION(() => ({ kind: 'assign' as const, name: name.image, nameSpan: this.sp(name), value, span: this.sp(name, value.span) }));
    } },
    { ALT: () => {
      const e = this.SUBRULE4(this.expr);
      return this.ACTION(() => ({ kind: 'expr' as const, expr: e, span: e.span }));
    } },
  ]));

  private assertStmt = this.RULE('assertStmt', (): Stmt & { kind: 'assert' } => {
    const kw = this.CONSUME(Kw.assert);
    const cond = this.SUBRULE(this.expr);
    let message: Expr | undefined;
    this.OPTION(() => {
      this.CONSUME(P.Comma);
      message = this.SUBRULE2(this.expr);
    });
    return this.ACTION(() => ({ kind: 'assert' as const, cond, message, span: this.sp(kw, (message ?? cond).span) }));
  });

  private pattern = this.RULE('pattern', (): Pattern => this.OR([
    { ALT: () => {
      const n = this.CONSUME(Identifier);
      return this.ACTION(() => ({ kind: 'pat_name' as const, name: n.image, span: this.sp(n) }));
    } },
    { ALT: () => {
      const lp = this.CONSUME(P.LParen);
      const items: Pattern[] = [];
      this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => { const p = this.SUBRULE(this.pattern); this.ACTION(() => items.push(p)); } });
      const rp = this.CONSUME(P.RParen);
      return this.ACTION(() => ({ kind: 'pat_tuple' as const, items, span: this.sp(lp, rp) }));
    } },
  ]));

  // ------------------------------------------------------------ expressions

  // `if` is a primary expression, so it can be an operand: `conv(x) + if c { s } else { x }`.
  expr = this.RULE('expr', (): Expr => this.SUBRULE(this.orExpr));

  private ifExpr = this.RULE('ifExpr', (): Expr => {
    const kw = this.CONSUME(Kw.if);
    const cond = this.SUBRULE(this.expr);
    const then = this.SUBRULE(this.block);
    let elseBlock: Block | undefined;
    this.OPTION(() => {
      this.CONSUME(Kw.else);
      this.OR([
        { ALT: () => {
          const nested = this.SUBRULE2(this.ifExpr);
          this.ACTION(() => { elseBlock = { stmts: [], result: nested, span: nested.span }; });
        } },
        { ALT: () => { elseBlock = this.SUBRULE2(this.block); } },
      ]);
    });
    return this.ACTION(() => ({ kind: 'if' as const, cond, then, else: elseBlock, span: this.sp(kw, (elseBlock ?? then).span) }));
  });

  private binaryChain(ops: TokenType[], first: () => Expr, rest: () => Expr): () => Expr {
    return () => {
      let left = first();
      this.MANY(() => {
        const op = this.OR(ops.map((t) => ({ ALT: () => this.CONSUME(t) })));
        const right = rest();
        this.ACTION(() => { left = { kind: 'binary', op: op.image as BinaryOp, left, right, span: this.sp(left.span, right.span) }; });
      });
      return left;
    };
  }

  private orExpr = this.RULE('orExpr', this.binaryChain([Kw.or], () => this.SUBRULE(this.andExpr), () => this.SUBRULE2(this.andExpr)));
  private andExpr = this.RULE('andExpr', this.binaryChain([Kw.and], () => this.SUBRULE(this.notExpr), () => this.SUBRULE2(this.notExpr)));

  private notExpr = this.RULE('notExpr', (): Expr => this.OR([
    { ALT: () => {
      const kw = this.CONSUME(Kw.not);
      const operand = this.SUBRULE(this.notExpr);
      return this.ACTION(() => ({ kind: 'unary' as const, op: 'not' as const, operand, span: this.sp(kw, operand.span) }));
    } },
    { ALT: () => this.SUBRULE(this.cmpExpr) },
  ]));

  private cmpExpr = this.RULE('cmpExpr', (): Expr => {
    let left = this.SUBRULE(this.rangeExpr);
    this.OPTION(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(P.EqEq) }, { ALT: () => this.CONSUME(P.NotEq) },
        { ALT: () => this.CONSUME(P.LtEq) }, { ALT: () => this.CONSUME(P.GtEq) },
        { ALT: () => this.CONSUME(P.Lt) }, { ALT: () => this.CONSUME(P.Gt) },
      ]);
      const right = this.SUBRULE2(this.rangeExpr);
      this.ACTION(() => { left = { kind: 'binary', op: op.image as BinaryOp, left, right, span: this.sp(left.span, right.span) }; });
    });
    return left;
  });

  private rangeExpr = this.RULE('rangeExpr', (): Expr => {
    let left = this.SUBRULE(this.addExpr);
    this.OPTION(() => {
      this.CONSUME(P.DotDot);
      const right = this.SUBRULE2(this.addExpr);
      this.ACTION(() => { left = { kind: 'range', start: left, end: right, span: this.sp(left.span, right.span) }; });
    });
    return left;
  });

  private addExpr = this.RULE('addExpr', this.binaryChain([P.Plus, P.Minus], () => this.SUBRULE(this.mulExpr), () => this.SUBRULE2(this.mulExpr)));
  private mulExpr = this.RULE('mulExpr', this.binaryChain([P.Star, P.SlashSlash, P.Slash, P.Percent, P.At], () => this.SUBRULE(this.unaryExpr), () => this.SUBRULE2(this.unaryExpr)));

  private unaryExpr = this.RULE('unaryExpr', (): Expr => this.OR([
    { ALT: () => {
      const m = this.CONSUME(P.Minus);
      const operand = this.SUBRULE(this.unaryExpr);
      return this.ACTION((): Expr => {
        // Fold literal negation so `-1` is a literal (axes, pads and defaults read nicer).
        if (operand.kind === 'int' || operand.kind === 'float') return { ...operand, value: -operand.value, span: this.sp(m, operand.span) };
        return { kind: 'unary', op: '-', operand, span: this.sp(m, operand.span) };
      });
    } },
    { ALT: () => this.SUBRULE(this.powExpr) },
  ]));

  private powExpr = this.RULE('powExpr', (): Expr => {
    let base = this.SUBRULE(this.postfix);
    this.OPTION(() => {
      this.CONSUME(P.StarStar);
      const exp = this.SUBRULE(this.unaryExpr);
      this.ACTION(() => { base = { kind: 'binary', op: '**', left: base, right: exp, span: this.sp(base.span, exp.span) }; });
    });
    return base;
  });

  private postfix = this.RULE('postfix', (): Expr => {
    let e = this.SUBRULE(this.primary);
    this.MANY(() => this.OR([
      { ALT: () => {
        this.CONSUME(P.LParen);
        const args = this.SUBRULE(this.argList);
        const rp = this.CONSUME(P.RParen);
        this.ACTION(() => { e = { kind: 'call', callee: e, args, span: this.sp(e.span, rp) }; });
      } },
      { ALT: () => {
        this.CONSUME(P.LBracket);
        const items: SliceItem[] = [];
        this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => { const it = this.SUBRULE(this.sliceItem); this.ACTION(() => items.push(it)); } });
        const rb = this.CONSUME(P.RBracket);
        this.ACTION(() => { e = { kind: 'index', object: e, items, span: this.sp(e.span, rb) }; });
      } },
      { ALT: () => {
        this.CONSUME(P.Dot);
        const name = this.OR2([{ ALT: () => this.CONSUME(Identifier) }, { ALT: () => this.CONSUME(IntLit) }]);
        this.ACTION(() => { e = { kind: 'member', object: e, name: name.image, nameSpan: this.sp(name), span: this.sp(e.span, name) }; });
      } },
    ]));
    return e;
  });

  private argList = this.RULE('argList', (): Arg[] => {
    const args: Arg[] = [];
    this.commaList(1, P.RParen, () => this.OR2([
        { GATE: () => this.LA(2).tokenType === P.Colon, ALT: () => {
          const name = this.CONSUME(Identifier);
          this.CONSUME(P.Colon);
          const value = this.SUBRULE(this.expr);
          this.ACTION(() => args.push({ name: name.image, nameSpan: this.sp(name), value, span: this.sp(name, value.span) }));
        } },
        { ALT: () => {
          const value = this.SUBRULE2(this.expr);
          this.ACTION(() => args.push({ value, span: value.span }));
        } },
      ]));
    return args;
  });

  private sliceItem = this.RULE('sliceItem', (): SliceItem => this.OR([
    { ALT: () => {
      const e = this.CONSUME(P.Ellipsis);
      return this.ACTION(() => ({ kind: 'ellipsis' as const, span: this.sp(e) }));
    } },
    { ALT: () => {
      const c = this.CONSUME(P.Colon);
      const rest = this.SUBRULE(this.sliceRest);
      return this.ACTION((): SliceItem => ({ kind: 'range', stop: rest.stop, step: rest.step, span: this.sp(c, rest.end ?? c) }));
    } },
    { ALT: () => {
      const start = this.SUBRULE(this.expr);
      let rest: { stop?: Expr; step?: Expr; end?: Span } | undefined;
      let colon: IToken | undefined;
      this.OPTION(() => {
        colon = this.CONSUME2(P.Colon);
        rest = this.SUBRULE2(this.sliceRest);
      });
      return this.ACTION((): SliceItem => {
        if (rest) return { kind: 'range', start, stop: rest.stop, step: rest.step, span: this.sp(start.span, rest.end ?? this.sp(colon!)) };
        if (start.kind === 'none') return { kind: 'newaxis', span: start.span };
        return { kind: 'index', value: start, span: start.span };
      });
    } },
  ]));

  /** After the first ':' of a slice: `[stop] [':' [step]]`. */
  private sliceRest = this.RULE('sliceRest', (): { stop?: Expr; step?: Expr; end?: Span } => {
    let stop: Expr | undefined;
    let step: Expr | undefined;
    let end: Span | undefined;
    this.OPTION(() => {
      stop = this.SUBRULE(this.expr);
      this.ACTION(() => { end = stop!.span; });
    });
    this.OPTION2(() => {
      const c = this.CONSUME(P.Colon);
      this.ACTION(() => { end = this.sp(c); });
      this.OPTION3(() => {
        step = this.SUBRULE2(this.expr);
        this.ACTION(() => { end = step!.span; });
      });
    });
    return { stop, step, end };
  });

  private primary = this.RULE('primary', (): Expr => this.OR([
    { ALT: () => {
      const t = this.CONSUME(IntLit);
      return this.ACTION(() => ({ kind: 'int' as const, value: Number(t.image), span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(FloatLit);
      return this.ACTION(() => ({ kind: 'float' as const, value: Number(t.image), span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(StringLit);
      return this.ACTION(() => ({ kind: 'str' as const, value: unescape(t.image), span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(Kw.true);
      return this.ACTION(() => ({ kind: 'bool' as const, value: true, span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(Kw.false);
      return this.ACTION(() => ({ kind: 'bool' as const, value: false, span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(Kw.none);
      return this.ACTION(() => ({ kind: 'none' as const, span: this.sp(t) }));
    } },
    { ALT: () => {
      const t = this.CONSUME(Identifier);
      return this.ACTION(() => ({ kind: 'name' as const, name: t.image, span: this.sp(t) }));
    } },
    { ALT: () => this.SUBRULE(this.ifExpr) },
    { ALT: () => this.SUBRULE(this.parenExpr) },
    { ALT: () => this.SUBRULE(this.listExpr) },
    { ALT: () => {
      const b = this.SUBRULE(this.block);
      return this.ACTION(() => ({ kind: 'block' as const, block: b, span: b.span }));
    } },
  ]));

  private parenExpr = this.RULE('parenExpr', (): Expr => {
    const lp = this.CONSUME(P.LParen);
    const items: Expr[] = [];
    const names: (string | null)[] = [];
    let commas = 0;
    this.commaList(1, P.RParen, () => this.OR2([
        { GATE: () => this.LA(2).tokenType === P.Colon, ALT: () => {
          const n = this.CONSUME(Identifier);
          this.CONSUME(P.Colon);
          const v = this.SUBRULE(this.expr);
          this.ACTION(() => { items.push(v); names.push(n.image); });
        } },
        { ALT: () => {
          const v = this.SUBRULE2(this.expr);
          this.ACTION(() => { items.push(v); names.push(null); });
        } },
      ]));
    const rp = this.CONSUME(P.RParen);
    return this.ACTION((): Expr => {
      const span = this.sp(lp, rp);
      const named = names.some((n) => n !== null);
      // `(x)` is grouping; `(x,)` is a one-element tuple.
      commas = this.file.text.slice(items[0]?.span.end ?? lp.startOffset, rp.startOffset).includes(',') ? 1 : 0;
      // Grouping keeps the parentheses in the span, so quoted source (`(a + b) * c`) stays balanced.
      if (items.length === 1 && commas === 0 && !named) return { ...items[0], span };
      return { kind: 'tuple', items, names: named ? names : undefined, span };
    });
  });

  private listExpr = this.RULE('listExpr', (): Expr => {
    const lb = this.CONSUME(P.LBracket);
    const items: Expr[] = [];
    let comp: { variable: string; iterable: Expr; cond?: Expr } | undefined;
    this.OPTION(() => {
      const first = this.SUBRULE(this.expr);
      this.ACTION(() => items.push(first));
      this.OPTION2(() => {
        this.CONSUME(Kw.for);
        const v = this.CONSUME(Identifier);
        this.CONSUME(Kw.in);
        const iterable = this.SUBRULE2(this.orExpr);
        let cond: Expr | undefined;
        this.OPTION3(() => {
          this.CONSUME(Kw.if);
          cond = this.SUBRULE3(this.orExpr);
        });
        this.ACTION(() => { comp = { variable: v.image, iterable, cond }; });
      });
      this.MANY({
        GATE: () => comp === undefined,
        DEF: () => {
          const comma = this.CONSUME(P.Comma);
          this.ACTION(() => {
            if (this.LA(1).tokenType === P.Comma) throw this.fail("expected a list item between the commas", this.sp(comma, this.LA(1)));
          });
          this.OPTION4({
            GATE: () => this.LA(1).tokenType !== P.RBracket,
            DEF: () => {
              const e = this.SUBRULE4(this.expr);
              this.ACTION(() => items.push(e));
            },
          });
        },
      });
    });
    const rb = this.CONSUME(P.RBracket);
    return this.ACTION((): Expr => {
      const span = this.sp(lb, rb);
      if (comp) return { kind: 'comprehension', body: items[0], variable: comp.variable, iterable: comp.iterable, cond: comp.cond, span };
      return { kind: 'list', items, span };
    });
  });

  fail(message: string, span: Span, help?: string): Error {
    return error(message, span, help ? { help } : {});
  }
}

let parserInstance: KilnParser | undefined;

/** Parse one source file; throws KilnError with a located message on the first syntax error. */
export function parseFile(file: SourceFile): FileAst {
  const parser = (parserInstance ??= new KilnParser());
  parser.file = file;
  parser.input = tokenize(file);
  const decls = parser.fileRule();
  if (parser.errors.length > 0) {
    const e = parser.errors[0];
    const tok = e.token;
    const atEof = tok.tokenType === EOF || Number.isNaN(tok.startOffset);
    const start = atEof ? Math.max(0, file.text.trimEnd().length - 1) : tok.startOffset;
    const end = atEof ? start + 1 : (tok.endOffset ?? tok.startOffset) + 1;
    const help = hintFor(e.message, tok);
    throw error(e.message, { file, start, end }, help ? { help } : {});
  }
  return { path: file.path, decls };
}

function hintFor(message: string, tok: IToken): string | undefined {
  if (tok.tokenType === Newline && message.includes("')'")) return 'a parenthesis or bracket is not closed before the end of the line';
  if (message.includes("expected '{'") && tok.image === ':') return 'Kiln blocks use { }, not a colon as in Python';
  if (tok.image === '=' && (message.includes('expression') || message.includes("'{'"))) return "use '==' to compare, or `let name = value` to bind";
  if (message.includes('end of line') || message.includes("';'")) return 'put each statement on its own line or separate them with ;';
  return undefined;
}
