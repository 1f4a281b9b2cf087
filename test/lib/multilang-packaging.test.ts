/**
 * Packaging MultiLang processors behind KclConsumer (examples/multilang/): a static Go
 * binary inside the NodejsFunction's zip, with its exec bit, and a Python processor in
 * a container image on the Lambda Node.js base image. The Go function is bundled for
 * real (esbuild and the command hook run, the staged asset is inspected: the binary is
 * cross-compiled for the function's architecture and its ELF header must say so); the image is
 * synthesized as an asset (building it needs a Docker daemon, which CI does not have:
 * its Dockerfile is checked as text).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { goArch } from '../../examples/multilang/go-processor-build';
import { MultiLangStack } from '../../examples/multilang/multilang-consumers';
import type { KclConsumer } from '../../lib';
import { buildGoFixture } from '../lambda/multilang/multilang-harness';

const examples = join(__dirname, '..', '..', 'examples', 'multilang');

/** The Lambda architecture an ELF executable is for, from its header's e_machine. */
function elfArchitecture(file: string): string {
  const header = readFileSync(file).subarray(0, 20);
  expect(header.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46])); // \x7fELF
  expect(header[4]).toBe(2); // 64-bit
  const machine = header.readUInt16LE(18);
  return ({ 0x3e: 'x86_64', 0xb7: 'arm64' } as Record<number, string>)[machine] ?? `e_machine 0x${machine.toString(16)}`;
}

describe('MultiLang packaging recipes', () => {
  let work: string;
  let app: App;
  let stack: MultiLangStack;
  let template: Template;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kcl-multilang-packaging-'));
    // The stack's default architecture (arm64), cross-compiled as the recipe says.
    const binary = buildGoFixture(work, goArch(lambda.Architecture.ARM_64.name));
    app = new App({ outdir: join(work, 'cdk.out') });
    stack = new MultiLangStack(app, 'MultiLang', { goBinary: binary });
    template = Template.fromStack(stack);
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const functionOf = (of: Stack, consumer: KclConsumer) => Template.fromStack(of).toJSON().Resources[of.getLogicalId(consumer.function.node.defaultChild as never)];
  /** The folder cdk.out staged a zip function's code in. */
  const stagedCode = (outdir: string, fn: { Properties: { Code: { S3Key: unknown } } }) =>
    join(outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);

  test('Go: the binary is in the bundle, executable, next to the handler, built for the function’s architecture (arm64 by default)', () => {
    const goFunction = functionOf(stack, stack.goConsumer);
    expect(goFunction.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['arm64'] });
    const staged = stagedCode(join(work, 'cdk.out'), goFunction);
    const mode = statSync(join(staged, 'kcl-processor')).mode;
    expect(mode & 0o111).toBe(0o111);
    expect(statSync(join(staged, 'index.js')).isFile()).toBe(true);
    expect(elfArchitecture(join(staged, 'kcl-processor'))).toBe(goFunction.Properties.Architectures[0]);
    // The handler starts the binary from its own folder, in the Go client's dialect.
    expect(readFileSync(join(staged, 'index.js'), 'utf8')).toContain('kcl-processor');
  });

  test('Go on x86_64: the same recipe with GOARCH=amd64 stages an x86-64 binary', () => {
    const dir = join(work, 'x86_64');
    mkdirSync(dir);
    const binary = buildGoFixture(dir, goArch(lambda.Architecture.X86_64.name));
    const x86App = new App({ outdir: join(dir, 'cdk.out') });
    const x86 = new MultiLangStack(x86App, 'MultiLangX86', { goBinary: binary, architecture: lambda.Architecture.X86_64 });
    const goFunction = functionOf(x86, x86.goConsumer);
    expect(goFunction.Properties.Architectures).toEqual(['x86_64']);
    expect(elfArchitecture(join(stagedCode(join(dir, 'cdk.out'), goFunction), 'kcl-processor'))).toBe('x86_64');
  }, 300_000);

  test('goArch names Go’s architecture for each Lambda one and refuses others', () => {
    expect(goArch('arm64')).toBe('arm64');
    expect(goArch('x86_64')).toBe('amd64');
    expect(() => goArch('riscv64')).toThrow(/No Go architecture for the Lambda architecture "riscv64"/);
  });

  test('Python: a container image function on the Lambda Node.js base image, wired like any KclConsumer function', () => {
    const pythonFunction = functionOf(stack, stack.pythonConsumer);
    expect(pythonFunction.Properties.PackageType).toBe('Image');
    expect(JSON.stringify(pythonFunction.Properties.Code.ImageUri)).toContain('container-assets');
    expect(pythonFunction.Properties.Runtime).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Environment: { Variables: Match.objectLike({ KCL_CHECKPOINT_TABLE: Match.anyValue(), KCL_APPLICATION_NAME: 'MultiLang-PythonConsumer' }) },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: stack.getLogicalId(stack.pythonConsumer.function.node.defaultChild as never) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
    });
    app.synth();
    const manifest = JSON.parse(readFileSync(join(work, 'cdk.out', 'MultiLang.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    // The image's build context is the staged copy of examples/multilang/python.
    const context = join(work, 'cdk.out', images[0].source.directory);
    expect(readFileSync(join(context, 'Dockerfile'), 'utf8')).toBe(readFileSync(join(examples, 'python', 'Dockerfile'), 'utf8'));
  });

  test('Python: the Dockerfile installs python3 on the Lambda Node.js 24 base image and runs the kcl-lambda handler', () => {
    const dockerfile = readFileSync(join(examples, 'python', 'Dockerfile'), 'utf8');
    const instructions = dockerfile
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !line.startsWith('#'));
    expect(instructions[0]).toBe('FROM public.ecr.aws/lambda/nodejs:24');
    expect(instructions).toContain('RUN dnf install -y python3 && dnf clean all');
    expect(instructions).toContain('COPY app.py ${LAMBDA_TASK_ROOT}/');
    expect(instructions.at(-1)).toBe('CMD ["index.handler"]');
    // Every instruction is one Docker knows.
    for (const line of instructions) expect(line).toMatch(/^(FROM|RUN|COPY|CMD|ENV|WORKDIR|ARG) /);
    // The processor is an unchanged kclpy app.
    expect(readFileSync(join(examples, 'python', 'app.py'), 'utf8')).toContain('kcl.KCLProcess(RecordProcessor()).run()');
  });
});

describe('the README’s MultiLang snippets are the example files', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## MultiLang processors (Python, Go)'));
  const blocks = [...section.slice(0, section.indexOf('\n## ', 4)).matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  /** The examples import the package by relative path; the README by its name. */
  const asInRepo = (line: string) => line.replace("from 'kcl-lambda/lambda'", "from '../../lambda'").replace("from 'kcl-lambda'", "from '../../lib'");

  test('every TypeScript block names its example file, and there is one for each handler and each packaging recipe', () => {
    expect(blocks.map((block) => block.split('\n')[0])).toEqual([
      '// examples/multilang/python-handler.ts',
      '// examples/multilang/go-handler.ts',
      '// examples/multilang/multilang-consumers.ts (excerpt)',
      '// examples/multilang/multilang-consumers.ts (excerpt)',
    ]);
  });

  test.each([0, 1, 2, 3])('block %i is the file, or a contiguous excerpt of it (indentation aside), word for word', (index) => {
    const [heading, ...lines] = blocks[index].trimEnd().split('\n').map(asInRepo);
    const [, file, excerpt] = /^\/\/ (examples\/multilang\/[\w.-]+\.ts)( \(excerpt\))?$/.exec(heading)!;
    const source = readFileSync(join(__dirname, '..', '..', file), 'utf8').trimEnd().split('\n');
    if (!excerpt) {
      expect(lines).toEqual(source);
      return;
    }
    const start = source.findIndex((line) => line.trim() === lines[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    const indent = source[start].slice(0, source[start].length - lines[0].length);
    const window = source.slice(start, start + lines.length).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
    expect(lines).toEqual(window);
  });
});
