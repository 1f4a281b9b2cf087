import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { Annotations, DockerImage, Stack } from 'aws-cdk-lib';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IConstruct } from 'constructs';

/** The major version of esbuild that `NodejsFunction` runs (it refuses any other). */
const ESBUILD_MAJOR = '0';

/** `cdk synth` found no esbuild to bundle a KCL function with, and the construct never uses Docker. */
export class EsbuildNotFoundError extends Error {
  constructor(path: string) {
    super(
      `KclConsumer ${path}: esbuild was not found, and this construct bundles its function locally, never in Docker. ` +
        'Install it in your CDK app: npm install --save-dev esbuild@0 ' +
        '(or give `functionProps.bundling.forceDockerBundling: true` to choose Docker yourself).',
    );
    this.name = 'EsbuildNotFoundError';
  }
}

/**
 * Stands in for the Docker image `NodejsFunction` would build when it finds no local
 * esbuild: it is never built, and running it fails with `EsbuildNotFoundError`, so no
 * path of the CDK's ever reaches Docker.
 */
class NoDockerImage extends DockerImage {
  constructor(private readonly path: string) {
    super('kcl-lambda-bundles-locally-only');
  }

  public override run(): void {
    throw new EsbuildNotFoundError(this.path);
  }
}

/**
 * The bundling a KCL function needs, laid over `bundling` (the user's settings).
 *
 * - Externals: none of its own (the AWS SDK is bundled); the user's `externalModules`
 *   are left out as given, e.g. `RUNTIME_PROVIDED_MODULES` for the runtime's SDK. A
 *   `@smithy/*` entry gets a synth warning: the runtime does not provide those.
 * - Local esbuild only: without it, synth fails with `EsbuildNotFoundError` instead of
 *   falling back to Docker (unless the user forces Docker or names an image).
 * - Minified, with a source map whose `sources` are relative to the project root, so
 *   the asset hash does not depend on the checkout path or TMPDIR (snapshot tests).
 * - ESM: a banner defines `require` (createRequire), which esbuild's CommonJS shims and
 *   the runtime's lazy SDK loading need inside an `.mjs` handler.
 */
export class KclFunctionBundling {
  /**
   * What a user may leave to the Lambda Node.js runtime instead of bundling it: the
   * AWS SDK v3 clients, which the runtime makes importable (`externalModules` with this
   * list). The construct itself leaves nothing out: the runtime does not make
   * `@smithy/*` importable from function code, and which SDK version it ships changes
   * without notice, so by default the SDK is bundled with the function.
   */
  public static readonly RUNTIME_PROVIDED_MODULES: string[] = Object.freeze(['@aws-sdk/*']) as string[];

  /** Bundling options for a `NodejsFunction` running a KCL processor. */
  public static options(scope: IConstruct, bundling: nodejs.BundlingOptions = {}): nodejs.BundlingOptions {
    const usesDocker = bundling.forceDockerBundling === true || bundling.dockerImage !== undefined;
    const esm = bundling.format === nodejs.OutputFormat.ESM;
    const userHooks = bundling.commandHooks;
    const smithy = (bundling.externalModules ?? []).filter((name) => name.startsWith('@smithy/'));
    if (smithy.length > 0) {
      Annotations.of(scope).addWarningV2(
        'kcl-lambda:smithyExternal',
        `bundling.externalModules leaves ${smithy.join(', ')} out of the bundle, but the Lambda Node.js runtime does not make ` +
          '@smithy/* packages importable from function code; leave them in the bundle.',
      );
    }
    return {
      minify: true,
      sourceMap: true,
      ...bundling,
      forceDockerBundling: bundling.forceDockerBundling ?? false,
      dockerImage: bundling.dockerImage ?? (usesDocker ? undefined : new NoDockerImage(scope.node.path)),
      externalModules: [...new Set(bundling.externalModules ?? [])],
      banner: esm ? esmBanner(bundling.banner) : bundling.banner,
      commandHooks: {
        beforeBundling: (inputDir, outputDir) => userHooks?.beforeBundling(inputDir, outputDir) ?? [],
        beforeInstall: (inputDir, outputDir) => userHooks?.beforeInstall(inputDir, outputDir) ?? [],
        afterBundling: (inputDir, outputDir) => [
          ...(userHooks?.afterBundling(inputDir, outputDir) ?? []),
          relativeSourceMapCommand(inputDir, outputDir, usesDocker),
        ],
      },
    };
  }

  /**
   * Throws `EsbuildNotFoundError` when the stack will be bundled and `NodejsFunction`
   * would find no esbuild (it looks where the CDK library is installed, then on PATH).
   */
  public static requireLocalEsbuild(scope: IConstruct, bundling: nodejs.BundlingOptions = {}): void {
    if (bundling.forceDockerBundling === true || bundling.dockerImage !== undefined) return;
    if (!Stack.of(scope).bundlingRequired) return;
    if (KclFunctionBundling.localEsbuildVersion()?.startsWith(`${ESBUILD_MAJOR}.`)) return;
    throw new EsbuildNotFoundError(scope.node.path);
  }

  /** The version of the esbuild `NodejsFunction` would run, found the way it finds it; undefined when none. */
  public static localEsbuildVersion(): string | undefined {
    try {
      const fromCdk = createRequire(require.resolve('aws-cdk-lib/aws-lambda-nodejs'));
      return (fromCdk('esbuild/package.json') as { version: string }).version;
    } catch {
      const probe = spawnSync('esbuild', ['--version']);
      return probe.status === 0 && !probe.error ? probe.stdout.toString().trim() : undefined;
    }
  }
}

function esmBanner(userBanner: string | undefined): string {
  // A banner of the user's that already defines require would clash with a second one.
  if (userBanner?.includes('createRequire')) return userBanner;
  const own = "import { createRequire as __kclCreateRequire } from 'node:module'; const require = __kclCreateRequire(import.meta.url);";
  return userBanner ? `${own} ${userBanner}` : own;
}

/**
 * esbuild writes each source map `sources` entry relative to the output folder, which
 * CDK puts in the assembly's folder (under TMPDIR in tests): the map, and so the asset
 * hash, would change with the checkout path. This rewrites them relative to the project
 * root, and a package's files from their last `node_modules/` on (so hoisted, linked
 * or pnpm layouts give the same names). The script has no quotes, `$`, `%`, `<`, `>`
 * or `|`, so it survives bash and cmd alike.
 */
function relativeSourceMapCommand(inputDir: string, outputDir: string, inDocker: boolean): string {
  const script = [
    'const fs=require(`fs`),path=require(`path`);',
    'const out=process.argv[1],root=process.argv[2];',
    'for(const name of fs.readdirSync(out)){',
    'if(!name.endsWith(`.map`))continue;',
    'const file=path.join(out,name),map=JSON.parse(fs.readFileSync(file,`utf8`));',
    'map.sources=map.sources.map(function(source){',
    'const relative=path.relative(root,path.resolve(out,source)).split(path.sep).join(`/`);',
    'const at=relative.lastIndexOf(`/node_modules/`);',
    'return at+1?relative.slice(at+1):relative});',
    'fs.writeFileSync(file,JSON.stringify(map))}',
  ].join('');
  const quote = !inDocker && os.platform() === 'win32' ? (value: string) => `"${value}"` : posixQuote;
  return [inDocker ? 'node' : quote(process.execPath), '-e', quote(script), quote(outputDir), quote(inputDir)].join(' ');
}

function posixQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
