/**
 * Packaging recipes for MultiLang processors behind a KclConsumer:
 * - Go: a static binary copied into the function's zip, with its exec bit, by an
 *   esbuild command hook of the NodejsFunction the construct builds.
 * - Python: a container image on the Lambda Node.js base image with python3
 *   (python/Dockerfile), used through DockerImageFunction.
 */
import * as path from 'node:path';
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { KclConsumer } from '../../lib';

export interface MultiLangStackProps extends StackProps {
  /** The Go processor, built for Linux on the function's architecture (`CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build`). */
  readonly goBinary: string;
  /** The functions' architecture; the Go binary must be built for it. @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** The folder with the Dockerfile and its inputs. @default examples/multilang/python */
  readonly pythonImageDirectory?: string;
}

export class MultiLangStack extends Stack {
  readonly goConsumer: KclConsumer;
  readonly pythonConsumer: KclConsumer;

  constructor(scope: Construct, id: string, props: MultiLangStackProps) {
    super(scope, id, props);
    const binary = path.resolve(props.goBinary);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    this.goConsumer = new KclConsumer(this, 'GoConsumer', {
      functionProps: {
        entry: path.join(__dirname, 'go-handler.ts'),
        architecture,
        bundling: {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            // The zip keeps the file mode: the binary stays executable on Lambda.
            afterBundling: (_inputDir: string, outputDir: string) => [
              `cp "${binary}" "${outputDir}/kcl-processor"`,
              `chmod 755 "${outputDir}/kcl-processor"`,
            ],
          },
        },
      },
    });

    const pythonFunction = new lambda.DockerImageFunction(this, 'PythonProcessor', {
      code: lambda.DockerImageCode.fromImageAsset(props.pythonImageDirectory ?? path.join(__dirname, 'python')),
      architecture,
      memorySize: 512,
      timeout: Duration.minutes(1),
    });
    this.pythonConsumer = new KclConsumer(this, 'PythonConsumer', { function: pythonFunction });
  }
}
