/**
 * The construct's bundling settings (lib/function-bundling.ts), checked on what synth
 * produces: a user's externals add to the construct's, ESM gets a `require`, no esbuild
 * fails synth without a Docker attempt, and the template (asset hash included) does not
 * depend on the checkout path or the assembly's temporary folder.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { KclConsumer, KclFunctionBundling } from '../../lib';
import { EsbuildNotFoundError } from '../../lib/function-bundling';
import { ECHO_HANDLER_ENTRY } from './kcl-consumer-helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');

interface Synthesis {
  readonly template: Record<string, any>;
  readonly functionResource: Record<string, any>;
  readonly assetFiles: Record<string, string>;
}

const outdirs: string[] = [];

function temporaryFolder(prefix: string): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  outdirs.push(folder);
  return folder;
}

afterAll(() => outdirs.forEach((folder) => fs.rmSync(folder, { recursive: true, force: true })));

function synthesize(functionProps: nodejs.NodejsFunctionProps, outdir = temporaryFolder('kcl-bundling-cdk-out-')): Synthesis {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bundling');
  new KclConsumer(stack, 'Consumer', { functionProps });
  const template = Template.fromStack(stack).toJSON();
  const functionResource = Object.values(template.Resources as Record<string, any>).find(
    (resource) => resource.Type === 'AWS::Lambda::Function',
  );
  const assetDirectory = path.join(outdir, `asset.${String(functionResource.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
  const assetFiles = Object.fromEntries(
    fs.readdirSync(assetDirectory).map((name) => [name, fs.readFileSync(path.join(assetDirectory, name), 'utf8')]),
  );
  return { template, functionResource, assetFiles };
}

describe('externalModules', () => {
  test("the construct bundles everything, the AWS SDK included; a user's list is left out as given", () => {
    const { assetFiles } = synthesize({
      entry: path.join(FIXTURES, 'external-dependency-handler.ts'),
      bundling: { externalModules: ['aws-kinesis-agg'] },
    });
    const code = assetFiles['index.js'];
    expect(code).toContain('require("aws-kinesis-agg")');
    expect(code).not.toContain('deaggregateSync=');
    // The DynamoDB client is inside (its JSON protocol target prefix), not required.
    expect(code).not.toMatch(/(?<![\w$[])require\("@aws-sdk\//);
    expect(code).toContain('DynamoDB_20120810');
  });

  test("KclFunctionBundling.RUNTIME_PROVIDED_MODULES leaves the runtime's SDK out", () => {
    const { assetFiles } = synthesize({
      entry: path.join(FIXTURES, 'external-dependency-handler.ts'),
      bundling: { externalModules: [...KclFunctionBundling.RUNTIME_PROVIDED_MODULES, 'aws-kinesis-agg'] },
    });
    expect(assetFiles['index.js']).toContain('require("@aws-sdk/client-dynamodb")');
    expect(assetFiles['index.js']).toContain('require("aws-kinesis-agg")');
    expect(assetFiles['index.js']).not.toContain('DynamoDB_20120810');
  });

  test('the list has no duplicates, and is empty by default', () => {
    const stack = new Stack(new App(), 'Options');
    expect(KclFunctionBundling.RUNTIME_PROVIDED_MODULES).toEqual(['@aws-sdk/*']);
    expect(KclFunctionBundling.options(stack, { externalModules: ['pg-native', '@aws-sdk/*', 'pg-native'] }).externalModules).toEqual([
      'pg-native',
      '@aws-sdk/*',
    ]);
    expect(KclFunctionBundling.options(stack).externalModules).toEqual([]);
  });

  test('@smithy/* left to the runtime gets a synth warning: the runtime does not provide it', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Smithy');
    new KclConsumer(stack, 'Consumer', {
      functionProps: { entry: ECHO_HANDLER_ENTRY, bundling: { externalModules: ['@aws-sdk/*', '@smithy/*'] } },
    });
    Annotations.fromStack(stack).hasWarning(
      '/Smithy/Consumer',
      Match.stringLikeRegexp('leaves @smithy/\\* out of the bundle, but the Lambda Node.js runtime does not make @smithy/\\* packages importable'),
    );
    const quiet = new Stack(app, 'Quiet');
    new KclConsumer(quiet, 'Consumer', { functionProps: { entry: ECHO_HANDLER_ENTRY, bundling: { externalModules: ['@aws-sdk/*'] } } });
    expect(Annotations.fromStack(quiet).findWarning('*', Match.stringLikeRegexp('@smithy'))).toEqual([]);
  });
});

describe('format: OutputFormat.ESM', () => {
  test('gives an index.mjs that defines require first, and the same handler name', () => {
    const { functionResource, assetFiles } = synthesize({
      entry: ECHO_HANDLER_ENTRY,
      bundling: { format: nodejs.OutputFormat.ESM, banner: '/* user banner */' },
    });
    expect(functionResource.Properties.Handler).toBe('index.handler');
    expect(Object.keys(assetFiles).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    expect(assetFiles['index.mjs'].startsWith(
      "import { createRequire as __kclCreateRequire } from 'node:module'; const require = __kclCreateRequire(import.meta.url); /* user banner */",
    )).toBe(true);
  });

  test("a user's banner that defines require itself is kept alone", () => {
    const banner = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";
    const options = KclFunctionBundling.options(new Stack(new App(), 'Options'), { format: nodejs.OutputFormat.ESM, banner });
    expect(options.banner).toBe(banner);
  });
});

describe('no local esbuild', () => {
  test('synth fails with EsbuildNotFoundError saying what to install, and never runs Docker', () => {
    const scratch = temporaryFolder('kcl-no-esbuild-');
    // esbuild cannot be resolved by anything but tsx (which compiles this test's script).
    const hide = path.join(scratch, 'hide-esbuild.cjs');
    fs.writeFileSync(
      hide,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const fromTsx = parent && parent.filename && parent.filename.includes('/node_modules/tsx/');
  if (!fromTsx && (request === 'esbuild' || request.startsWith('esbuild/'))) {
    throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return resolve.call(this, request, parent, ...rest);
};
`,
    );
    // If anything ran Docker, this stand-in would leave a mark.
    const dockerMark = path.join(scratch, 'docker-was-run');
    const docker = path.join(scratch, 'docker');
    fs.writeFileSync(docker, `#!/bin/sh\necho "$@" >> '${dockerMark}'\nexit 1\n`, { mode: 0o755 });

    const output = execFileSync(
      process.execPath,
      ['--require', hide, '--import', 'tsx', path.join(FIXTURES, 'synth-without-esbuild.ts'), path.join(scratch, 'cdk.out')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        // No node_modules/.bin on PATH, so no esbuild binary either.
        env: { PATH: path.dirname(process.execPath), HOME: scratch, CDK_DOCKER: docker },
      },
    );

    const result = JSON.parse(output.trim().split('\n').pop() ?? '{}');
    expect(result.esbuildFound).toBeNull();
    expect(result.synthesized).toBeUndefined();
    expect(result.error.name).toBe('EsbuildNotFoundError');
    expect(result.error.message).toContain('KclConsumer NoEsbuild/Consumer: esbuild was not found');
    expect(result.error.message).toContain('npm install --save-dev esbuild@0');
    expect(fs.existsSync(dockerMark)).toBe(false);
  });

  test('esbuild is found here the way NodejsFunction finds it', () => {
    expect(KclFunctionBundling.localEsbuildVersion()).toMatch(/^0\.\d+\.\d+/);
  });

  test('the image NodejsFunction would fall back to is never Docker: running it throws EsbuildNotFoundError', () => {
    const stack = new Stack(new App(), 'Options');
    const image = KclFunctionBundling.options(stack).dockerImage;
    expect(() => image?.run()).toThrow(EsbuildNotFoundError);
    // Choosing Docker is still the user's call.
    expect(KclFunctionBundling.options(stack, { forceDockerBundling: true }).dockerImage).toBeUndefined();
    expect(KclFunctionBundling.options(stack, { forceDockerBundling: true }).forceDockerBundling).toBe(true);
  });
});

describe('snapshot determinism', () => {
  /** A copy of a project (the runtime, an example handler, its lock file) at `folder`, with node_modules linked. */
  function checkout(folder: string): string {
    fs.mkdirSync(folder, { recursive: true });
    for (const name of ['lambda', 'examples']) fs.cpSync(path.join(ROOT, name), path.join(folder, name), { recursive: true });
    for (const name of ['package.json', 'package-lock.json', 'tsconfig.json']) fs.copyFileSync(path.join(ROOT, name), path.join(folder, name));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(folder, 'node_modules'), 'dir');
    return folder;
  }

  test('the same stack from two checkouts and two temporary folders gives the same template and asset', () => {
    const first = checkout(path.join(temporaryFolder('kcl-checkout-a-'), 'app'));
    const second = checkout(path.join(temporaryFolder('kcl-checkout-b-'), 'a', 'deeper', 'path', 'app'));
    const propsFor = (project: string): nodejs.NodejsFunctionProps => ({
      entry: path.join(project, 'examples', 'handler.ts'),
      depsLockFilePath: path.join(project, 'package-lock.json'),
    });

    const a = synthesize(propsFor(first), temporaryFolder('kcl-tmpdir-one-'));
    const b = synthesize(propsFor(second), path.join(temporaryFolder('kcl-tmpdir-two-'), 'nested', 'cdk.out'));

    expect(b.template).toEqual(a.template);
    expect(b.assetFiles).toEqual(a.assetFiles);
    // The source map names sources from the project root, or from node_modules/ on.
    const sources: string[] = JSON.parse(a.assetFiles['index.js.map']).sources;
    expect(sources).toContain('examples/handler.ts');
    expect(sources).toContain('lambda/lifecycle/aws-clients.ts');
    expect(sources.some((source) => source.startsWith('node_modules/@smithy/node-http-handler/'))).toBe(true);
    expect(sources.filter((source) => source.startsWith('/') || source.startsWith('..'))).toEqual([]);
  });
});
