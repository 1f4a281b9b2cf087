/**
 * Packaging MultiLang processors behind KclConsumer (examples/multilang/): a static Go
 * binary inside the NodejsFunction's zip, with its exec bit, and a Python processor in
 * a container image on the Lambda Node.js base image. The Go function is bundled for
 * real (esbuild and the command hook run, the staged asset is inspected); the image is
 * synthesized as an asset (building it needs a Docker daemon, which CI does not have:
 * its Dockerfile is checked as text).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MultiLangStack } from '../../examples/multilang/multilang-consumers';
import { buildGoFixture } from '../lambda/multilang/multilang-harness';

const examples = join(__dirname, '..', '..', 'examples', 'multilang');

describe('MultiLang packaging recipes', () => {
  let work: string;
  let app: App;
  let stack: MultiLangStack;
  let template: Template;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kcl-multilang-packaging-'));
    const binary = buildGoFixture(work, 'amd64');
    app = new App({ outdir: join(work, 'cdk.out') });
    // amd64: Debian's Go ships its standard library prebuilt for it (arm64 deploys build the same way with GOARCH=arm64).
    stack = new MultiLangStack(app, 'MultiLang', { goBinary: binary, architecture: lambda.Architecture.X86_64 });
    template = Template.fromStack(stack);
  }, 180_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const functionOf = (consumer: MultiLangStack['goConsumer']) => template.toJSON().Resources[stack.getLogicalId(consumer.function.node.defaultChild as never)];

  test('Go: the binary is in the bundle, executable, next to the handler; the function is a Node.js 24 zip function', () => {
    const goFunction = functionOf(stack.goConsumer);
    expect(goFunction.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['x86_64'] });
    const assetHash = String(goFunction.Properties.Code.S3Key).replace(/\.zip$/, '');
    const staged = join(work, 'cdk.out', `asset.${assetHash}`);
    const mode = statSync(join(staged, 'kcl-processor')).mode;
    expect(mode & 0o111).toBe(0o111);
    expect(statSync(join(staged, 'index.js')).isFile()).toBe(true);
    expect(readFileSync(join(staged, 'kcl-processor')).subarray(1, 4).toString()).toBe('ELF');
    // The handler starts the binary from its own folder, in the Go client's dialect.
    expect(readFileSync(join(staged, 'index.js'), 'utf8')).toContain('kcl-processor');
  });

  test('Python: a container image function on the Lambda Node.js base image, wired like any KclConsumer function', () => {
    const pythonFunction = functionOf(stack.pythonConsumer);
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
