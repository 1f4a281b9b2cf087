import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MappingSettingsError } from './mapping-settings';

/** One stack of a synthesized app: its template and the construct path of each logical id. */
export interface AssemblyStack {
  readonly stackName: string;
  readonly templateFile: string;
  readonly template: unknown;
  /** Logical id → construct path (`MyStack/Orders/Function/Resource`), where the assembly records it. */
  readonly paths: ReadonlyMap<string, string>;
}

/**
 * Runs a CDK app command the way `cdk synth` does (the command, with the output
 * directory and the context in the environment) and returns the output directory.
 * Asset bundling is skipped: only the settings are read, not the code, so synth
 * needs no esbuild and hashes nothing. Path metadata is turned on, so consumers can
 * be named by their construct path.
 */
export function synthesizeApp(command: string, options: { cwd?: string; context?: Record<string, unknown> } = {}): string {
  const outdir = mkdtempSync(join(tmpdir(), 'kcl-lambda-local-synth-'));
  const context = { ...options.context, 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true };
  try {
    execSync(command, {
      cwd: options.cwd,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new MappingSettingsError(`The CDK app (${command}) failed to synthesize${stderr ? `:\n${stderr}` : ''}`, { cause: error });
  }
  if (!existsSync(join(outdir, 'manifest.json'))) {
    throw new MappingSettingsError(`The CDK app (${command}) wrote no cloud assembly; does it call app.synth() (new App() does at exit)?`);
  }
  return outdir;
}

/** The `app` command and the context of a `cdk.json`; undefined when the file does not exist. */
export function readCdkJson(directory: string): { app: string; context: Record<string, unknown>; file: string } | undefined {
  const file = join(directory, 'cdk.json');
  if (!existsSync(file)) return undefined;
  let json: { app?: unknown; context?: unknown };
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as typeof json;
  } catch (error) {
    throw new MappingSettingsError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof json.app !== 'string' || json.app.trim() === '') throw new MappingSettingsError(`${file} names no "app" command.`);
  return { app: json.app, context: (json.context as Record<string, unknown> | undefined) ?? {}, file };
}

/** True when the path is a cloud assembly directory (e.g. `cdk.out`). */
export function isCloudAssembly(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'manifest.json'));
}

/** Every stack of a cloud assembly directory, nested assemblies (stages) included. */
export function readCloudAssembly(directory: string): AssemblyStack[] {
  const manifestFile = join(directory, 'manifest.json');
  let manifest: { artifacts?: Record<string, Artifact> };
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as typeof manifest;
  } catch (error) {
    throw new MappingSettingsError(`Cannot read the cloud assembly ${manifestFile}: ${(error as Error).message}`);
  }
  const stacks: AssemblyStack[] = [];
  for (const [artifactId, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && typeof artifact.properties?.directoryName === 'string') {
      stacks.push(...readCloudAssembly(join(directory, artifact.properties.directoryName)));
    }
    if (artifact.type !== 'aws:cloudformation:stack' || typeof artifact.properties?.templateFile !== 'string') continue;
    const templateFile = join(directory, artifact.properties.templateFile);
    const template = readJson(templateFile);
    const paths = new Map<string, string>();
    addMetadataPaths(paths, artifact.metadata);
    if (typeof artifact.additionalMetadataFile === 'string') {
      addMetadataPaths(paths, readJson(join(directory, artifact.additionalMetadataFile)) as Artifact['metadata']);
    }
    addTemplatePaths(paths, template);
    stacks.push({ stackName: artifact.displayName ?? artifactId, templateFile, template, paths });
  }
  return stacks;
}

/** One template file read alone (`--template`): construct paths only where the template carries them. */
export function readTemplateStack(file: string): AssemblyStack {
  const templateFile = resolve(file);
  const template = readJson(templateFile);
  const paths = new Map<string, string>();
  addTemplatePaths(paths, template);
  const stackName = templateFile.replace(/^.*[\\/]/, '').replace(/\.template\.json$|\.json$/, '');
  return { stackName, templateFile, template, paths };
}

interface Artifact {
  readonly type?: string;
  readonly displayName?: string;
  readonly additionalMetadataFile?: string;
  readonly properties?: { readonly templateFile?: string; readonly directoryName?: string };
  readonly metadata?: Record<string, readonly { type?: string; data?: unknown }[]>;
}

function addMetadataPaths(paths: Map<string, string>, metadata: Artifact['metadata']): void {
  for (const [path, entries] of Object.entries(metadata ?? {})) {
    for (const entry of entries ?? []) {
      if (entry.type === 'aws:cdk:logicalId' && typeof entry.data === 'string') paths.set(entry.data, path.replace(/^\//, ''));
    }
  }
}

function addTemplatePaths(paths: Map<string, string>, template: unknown): void {
  const resources = (template as { Resources?: Record<string, { Metadata?: Record<string, unknown> }> } | null)?.Resources ?? {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    const path = resource?.Metadata?.['aws:cdk:path'];
    if (typeof path === 'string' && !paths.has(logicalId)) paths.set(logicalId, path);
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new MappingSettingsError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MappingSettingsError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

