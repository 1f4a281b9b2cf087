/**
 * The Go half of the packaging recipe as code: a static Linux binary (CGO off, so it
 * needs no libc of the image) for the function's architecture. Go cross-compiles by
 * itself, so an x86_64 machine builds the arm64 binary the functions default to.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Go's name for a Lambda architecture (`lambda.Architecture#name`). */
export function goArch(architectureName: string): string {
  const names: Record<string, string> = { arm64: 'arm64', x86_64: 'amd64' };
  const goarch = names[architectureName];
  if (!goarch) throw new Error(`No Go architecture for the Lambda architecture ${JSON.stringify(architectureName)} (expected arm64 or x86_64)`);
  return goarch;
}

export interface GoProcessorBuild {
  /** The main package: a .go file or a folder. */
  readonly source: string;
  /** The binary to write. */
  readonly output: string;
  /** GOARCH. @default - the machine's */
  readonly goarch?: string;
  /** Where Go may keep its build cache and module folder. @default - Go's defaults */
  readonly cacheDir?: string;
}

/** Runs `CGO_ENABLED=0 GOOS=linux GOARCH=… go build -o output source`; returns the binary's path. */
export function buildGoProcessor({ source, output, goarch, cacheDir }: GoProcessorBuild): string {
  try {
    execFileSync('go', ['build', '-o', output, source], {
      env: {
        ...process.env,
        CGO_ENABLED: '0',
        GOOS: 'linux',
        ...(goarch ? { GOARCH: goarch } : {}),
        ...(cacheDir ? { GOCACHE: join(cacheDir, 'gocache'), GOPATH: join(cacheDir, 'gopath') } : {}),
        GOFLAGS: '',
      },
      stdio: 'pipe',
    });
  } catch (error) {
    const failure = error as { code?: string; stderr?: Buffer };
    const detail = failure.code === 'ENOENT' ? 'go is not installed (apt-get install -y golang-go)' : String(failure.stderr ?? error);
    throw new Error(`Cannot build the Go MultiLang processor ${source}: ${detail}`);
  }
  return output;
}
