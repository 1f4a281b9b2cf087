import * as path from 'node:path';
import * as ts from 'typescript';
import * as api from '../../lib';
import { DEFAULT_METRICS_NAMESPACE, RuntimeEnvironment as RuntimeVariables } from '../../lambda/runtime-environment';

/**
 * The construct's API (everything lib/index.ts exports) stays within what jsii
 * can carry to Python, Java, .NET and Go (DESIGN.md §5). The compiler API reads
 * the declarations, since at run time a string enum and a constant object look
 * alike, and type aliases and literal types leave no trace at all.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const INDEX = path.join(ROOT, 'lib', 'index.ts');

/** Keywords jsii maps to a type in every language. */
const SUPPORTED_KEYWORDS = new Set([
  ts.SyntaxKind.StringKeyword,
  ts.SyntaxKind.NumberKeyword,
  ts.SyntaxKind.BooleanKeyword,
  ts.SyntaxKind.AnyKeyword,
  ts.SyntaxKind.VoidKeyword,
  ts.SyntaxKind.UndefinedKeyword,
]);

interface Api {
  readonly checker: ts.TypeChecker;
  /** Each exported name with the declarations it stands for. */
  readonly exports: ReadonlyMap<string, readonly ts.Declaration[]>;
}

/** The exports of `entry` in `program`, each with the declarations it stands for. */
function exportsOf(program: ts.Program, entry: string): Api {
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const exports = new Map<string, readonly ts.Declaration[]>();
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    exports.set(symbol.name, resolveAlias(checker, symbol).declarations ?? []);
  }
  return { checker, exports };
}

function loadApi(): Api {
  const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (file) => ts.sys.readFile(file));
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  return exportsOf(ts.createProgram([INDEX], { ...options, noEmit: true }), INDEX);
}

function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

function inThisRepo(node: ts.Node): boolean {
  const file = node.getSourceFile().fileName;
  return file.startsWith(ROOT) && !file.includes('/node_modules/');
}

function fromTypeScriptLib(node: ts.Node): boolean {
  return /\/node_modules\/typescript\/lib\//.test(node.getSourceFile().fileName);
}

/** Hidden from jsii: private members, `#` fields, and `@internal` ones (which must start with `_`). */
function hidden(member: ts.Node): boolean {
  const modifiers = ts.canHaveModifiers(member) ? ts.getModifiers(member) ?? [] : [];
  if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return true;
  const name = (member as { name?: ts.Node }).name;
  if (name && ts.isPrivateIdentifier(name)) return true;
  return ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'internal');
}

/** Every problem jsii would have with the exported API, as `Export.member: reason`. */
function apiProblems({ checker, exports }: Api): string[] {
  const problems: string[] = [];
  const exported = new Set([...exports.values()].flat());

  const checkType = (where: string, node: ts.TypeNode | undefined): void => {
    if (!node) {
      problems.push(`${where}: no declared type`);
      return;
    }
    if (SUPPORTED_KEYWORDS.has(node.kind)) return;
    if (ts.isLiteralTypeNode(node)) {
      problems.push(`${where}: literal type \`${node.getText()}\` (use a flag, a string enum or a class with static factories)`);
    } else if (ts.isUnionTypeNode(node)) {
      node.types.forEach((member) => checkType(where, member));
    } else if (ts.isArrayTypeNode(node)) {
      checkType(where, node.elementType);
    } else if (ts.isParenthesizedTypeNode(node)) {
      checkType(where, node.type);
    } else if (ts.isTypeLiteralNode(node)) {
      // jsii's one object literal type: a string-keyed map.
      const [only] = node.members;
      const isMap =
        node.members.length === 1 &&
        ts.isIndexSignatureDeclaration(only) &&
        only.parameters[0]?.type?.kind === ts.SyntaxKind.StringKeyword;
      if (isMap) checkType(where, (only as ts.IndexSignatureDeclaration).type);
      else problems.push(`${where}: object literal type \`${node.getText()}\` (declare an interface)`);
    } else if (ts.isFunctionTypeNode(node) || ts.isConstructorTypeNode(node)) {
      problems.push(`${where}: function type \`${node.getText()}\` (use an interface with a method)`);
    } else if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      // A named type, or a base class or interface in an extends or implements clause.
      const nameNode = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
      const symbol = checker.getSymbolAtLocation(nameNode);
      const declarations = symbol ? resolveAlias(checker, symbol).declarations ?? [] : [];
      if (declarations.some(ts.isTypeAliasDeclaration)) {
        problems.push(`${where}: type alias \`${nameNode.getText()}\` (use a class, an interface or an enum)`);
      } else if (declarations.some((d) => inThisRepo(d) && !exported.has(d))) {
        problems.push(`${where}: \`${nameNode.getText()}\` is not exported from lib/index.ts`);
      }
      node.typeArguments?.forEach((argument) => checkType(where, argument));
    } else {
      problems.push(`${where}: unsupported type \`${node.getText()}\` (${ts.SyntaxKind[node.kind]})`);
    }
  };

  const checkSignature = (where: string, signature: ts.SignatureDeclaration, returns: boolean): void => {
    for (const parameter of signature.parameters) {
      const name = `${where}(${parameter.name.getText()})`;
      if (parameter.dotDotDotToken) problems.push(`${name}: rest parameter`);
      checkType(name, parameter.type);
    }
    if (returns) checkType(`${where}()`, signature.type);
  };

  for (const [name, declarations] of exports) {
    for (const declaration of declarations) {
      if (ts.isEnumDeclaration(declaration)) {
        for (const member of declaration.members) {
          if (!member.initializer || !ts.isStringLiteral(member.initializer)) {
            problems.push(`${name}.${member.name.getText()}: not a string enum member`);
          }
        }
      } else if (ts.isInterfaceDeclaration(declaration)) {
        // jsii reads an I-name as a behavioural interface, any other name as a struct of readonly data.
        const behavioural = /^I[A-Z]/.test(name);
        const methods = declaration.members.filter(ts.isMethodSignature);
        if (behavioural && methods.length === 0) problems.push(`${name}: named I… but has no methods (a struct drops the I)`);
        if (!behavioural && methods.length > 0) problems.push(`${name}: a struct with methods (name it I${name})`);
        for (const member of declaration.members) {
          const where = `${name}.${member.name?.getText()}`;
          if (ts.isPropertySignature(member)) {
            const readonly = (member.modifiers ?? []).some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword);
            if (!behavioural && !readonly) problems.push(`${where}: struct property not readonly`);
            checkType(where, member.type);
          } else if (ts.isMethodSignature(member)) {
            checkSignature(where, member, true);
          } else {
            problems.push(`${where}: unsupported interface member (${ts.SyntaxKind[member.kind]})`);
          }
        }
        for (const heritage of declaration.heritageClauses ?? []) heritage.types.forEach((t) => checkType(`${name} extends`, t));
      } else if (ts.isClassDeclaration(declaration)) {
        for (const heritage of declaration.heritageClauses ?? []) {
          for (const base of heritage.types) {
            const symbol = checker.getSymbolAtLocation(base.expression);
            const baseDeclarations = symbol ? resolveAlias(checker, symbol).declarations ?? [] : [];
            if (baseDeclarations.some(fromTypeScriptLib)) {
              problems.push(`${name}: extends or implements the built-in \`${base.expression.getText()}\``);
            } else {
              checkType(`${name} ${heritage.token === ts.SyntaxKind.ExtendsKeyword ? 'extends' : 'implements'}`, base);
            }
          }
        }
        for (const member of declaration.members) {
          if (hidden(member)) continue;
          const where = `${name}.${member.name?.getText() ?? 'constructor'}`;
          if (ts.isPropertyDeclaration(member)) {
            checkType(where, member.type);
          } else if (ts.isMethodDeclaration(member)) {
            checkSignature(where, member, true);
          } else if (ts.isConstructorDeclaration(member)) {
            checkSignature(where, member, false);
          } else if (ts.isGetAccessorDeclaration(member)) {
            checkType(where, member.type);
          } else if (!ts.isClassStaticBlockDeclaration(member) && !ts.isSemicolonClassElement(member)) {
            problems.push(`${where}: unsupported class member (${ts.SyntaxKind[member.kind]})`);
          }
        }
      } else {
        problems.push(`${name}: a ${ts.SyntaxKind[declaration.kind]} (jsii exports classes, interfaces and enums only)`);
      }
    }
  }
  return problems;
}

describe('the construct API (lib/index.ts) is jsii-compatible', () => {
  let declared: Api;
  beforeAll(() => {
    declared = loadApi();
  }, 300_000);

  test('every export is a class, an interface or a string enum, and its members use only types jsii carries', () => {
    expect(declared.exports.size).toBeGreaterThan(5);
    expect(apiProblems(declared)).toEqual([]);
  });

  test('at run time every exported value is a class (none an Error subclass) or a string enum', () => {
    const values = Object.entries(api as Record<string, unknown>);
    expect(values.length).toBeGreaterThan(5);
    for (const [name, value] of values) {
      if (typeof value === 'function') {
        expect([name, Function.prototype.toString.call(value).startsWith('class ')]).toEqual([name, true]);
        expect([name, value.prototype instanceof Error]).toEqual([name, false]);
      } else {
        expect([name, typeof value]).toEqual([name, 'object']);
        expect([name, Object.values(value as object).every((v) => typeof v === 'string')]).toEqual([name, true]);
      }
    }
  });

  test('the checker finds what it guards against', () => {
    // A throwaway module with one of each violation, checked the same way.
    const file = path.join(ROOT, 'lib', '__jsii-probe__.ts');
    const source = `
      import type * as sqs from 'aws-cdk-lib/aws-sqs';
      export type Destination = sqs.IQueue | false;
      export interface ProbeProps {
        readonly onFailure?: sqs.IQueue | false;
        readonly mode?: 'a' | 'b';
        readonly destination?: Destination;
        readonly callback?: (x: string) => void;
        mutable?: string;
        readonly shape?: HiddenShape;
      }
      interface HiddenShape { readonly name: string }
      export interface IProbeData { readonly name: string }
      export interface ProbeStruct { describe(): string }
      export const PROBE_NAMES = { A: 'a' } as const;
      export function probe(): void {}
      export enum ProbeNumbers { ONE = 1 }
      export class ProbeError extends Error {}
    `;
    const host = ts.createCompilerHost({});
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => (name === file ? source : readFile(name));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === file || fileExists(name);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language) =>
      name === file ? ts.createSourceFile(name, source, language, true) : getSourceFile(name, language);
    const options = { noEmit: true, skipLibCheck: true, types: [], moduleResolution: ts.ModuleResolutionKind.Node10 };
    const program = ts.createProgram([file], options, host);
    const problems = apiProblems(exportsOf(program, file)).join('\n');
    for (const expected of [
      /Destination: a TypeAliasDeclaration/,
      /ProbeProps\.onFailure: literal type `false`/,
      /ProbeProps\.mode: literal type `'a'`/,
      /ProbeProps\.destination: type alias `Destination`/,
      /ProbeProps\.callback: function type/,
      /ProbeProps\.mutable: struct property not readonly/,
      /ProbeProps\.shape: `HiddenShape` is not exported/,
      /IProbeData: named I… but has no methods/,
      /ProbeStruct: a struct with methods/,
      /PROBE_NAMES: a VariableDeclaration/,
      /probe: a FunctionDeclaration/,
      /ProbeNumbers\.ONE: not a string enum member/,
      /ProbeError: extends or implements the built-in `Error`/,
    ]) {
      expect(problems).toMatch(expected);
    }
  });
});

describe('the API classes that replace constants', () => {
  test('RuntimeEnvironment names exactly the variables the runtime reads', () => {
    const statics = Object.fromEntries(Object.entries(api.RuntimeEnvironment));
    expect(statics).toEqual({ ...RuntimeVariables });
  });

  test('KclMetrics.DEFAULT_NAMESPACE is the runtime default; KclMetricName values are the runtime metric names', () => {
    expect(api.KclMetrics.DEFAULT_NAMESPACE).toBe(DEFAULT_METRICS_NAMESPACE);
    expect(api.KclMetrics.DEFAULT_NAMESPACE).toBe('KclLambda');
    expect(Object.values(api.KclMetricName).sort()).toEqual([
      'CheckpointWriteTime',
      'DuplicatesSkipped',
      'KinesisBytes',
      'KinesisRecords',
      'LeaseLost',
      'MillisBehindLatest',
      'ProcessRecordsTime',
      'RecordsFailed',
      'ShardEnded',
      'UserRecords',
    ]);
  });
});
