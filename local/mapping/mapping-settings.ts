import { readFileSync } from 'node:fs';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/**
 * The event source mapping and function settings the local runner honours, in
 * the units Lambda's API uses. Defaults are Lambda's own for Kinesis.
 */
export interface EventSourceMappingSettings {
  /** Records per batch (Lambda: 1..10,000, default 100). */
  readonly batchSize: number;
  /** How long to gather records before invoking with a short batch (default 0). */
  readonly maximumBatchingWindowInSeconds: number;
  readonly startingPosition: StartingPosition;
  /** Only with AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: Date;
  /** Retries after the first invocation; -1 retries until the records expire (default -1). */
  readonly maximumRetryAttempts: number;
  /** Records older than this are discarded to the on-failure destination; -1 never (default -1). */
  readonly maximumRecordAgeInSeconds: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** `FunctionResponseTypes` contains `ReportBatchItemFailures`. */
  readonly reportBatchItemFailures: boolean;
  /** The function's timeout (Lambda default 3 s). */
  readonly functionTimeoutSeconds: number;
  /** The function's name, used in the context and in on-failure records. */
  readonly functionName: string;
  /** The function's literal environment variables from the template (tokens left out). */
  readonly environment: Readonly<Record<string, string>>;
}

export const DEFAULT_SETTINGS: EventSourceMappingSettings = {
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  functionTimeoutSeconds: 3,
  functionName: 'local-function',
  environment: {},
};

/** The settings were asked of a template or props that cannot give them. */
export class MappingSettingsError extends Error {
  override readonly name = 'MappingSettingsError';
}

/** Defaults, overridden by explicit props; checked against Lambda's ranges. */
export function resolveSettings(props: Partial<EventSourceMappingSettings> = {}): EventSourceMappingSettings {
  const defined = Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined));
  const settings: EventSourceMappingSettings = { ...DEFAULT_SETTINGS, ...defined };
  validate(settings);
  return settings;
}

/** A resource of a synthesized template, as far as the runner reads it. */
export interface TemplateResource {
  readonly Type?: string;
  readonly Properties?: Record<string, unknown>;
}

export interface TemplateSelection {
  /** The logical id of the AWS::Lambda::EventSourceMapping to read, when the template has several. */
  readonly eventSourceMappingLogicalId?: string;
}

/**
 * Reads the settings `cdk deploy` would apply from a synthesized CloudFormation
 * template: the Kinesis AWS::Lambda::EventSourceMapping and the Timeout,
 * name and environment of the AWS::Lambda::Function it names.
 */
export function settingsFromTemplate(template: unknown, selection: TemplateSelection = {}): EventSourceMappingSettings {
  const resources = (template as { Resources?: Record<string, TemplateResource> } | null)?.Resources;
  if (!resources || typeof resources !== 'object') {
    throw new MappingSettingsError('The template has no Resources section; is it a synthesized CloudFormation template?');
  }
  const mappingId = selectMapping(resources, selection);
  const mapping = resources[mappingId].Properties ?? {};
  if (mapping.ParallelizationFactor !== undefined && mapping.ParallelizationFactor !== 1) {
    throw new MappingSettingsError(
      `${mappingId} has ParallelizationFactor ${String(mapping.ParallelizationFactor)}: more than one batch per shard breaks per-shard order, which KCL processors rely on.`,
    );
  }
  if (mapping.FilterCriteria !== undefined) {
    throw new MappingSettingsError(
      `${mappingId} sets FilterCriteria, which the local runner does not emulate: Lambda would drop the records that match no filter, and running without the filters would deliver them. Remove the filters to run it locally.`,
    );
  }
  if (mapping.TumblingWindowInSeconds !== undefined) {
    throw new MappingSettingsError(`${mappingId} sets TumblingWindowInSeconds, which the local runner does not emulate.`);
  }

  const fn = functionOf(resources, mapping.FunctionName);
  const timestamp = mapping.StartingPositionTimestamp;
  return resolveSettings({
    batchSize: numberOrUndefined(mapping.BatchSize),
    maximumBatchingWindowInSeconds: numberOrUndefined(mapping.MaximumBatchingWindowInSeconds),
    startingPosition: mapping.StartingPosition as StartingPosition | undefined,
    startingPositionTimestamp: typeof timestamp === 'number' ? new Date(timestamp * 1000) : undefined,
    maximumRetryAttempts: numberOrUndefined(mapping.MaximumRetryAttempts),
    maximumRecordAgeInSeconds: numberOrUndefined(mapping.MaximumRecordAgeInSeconds),
    bisectBatchOnFunctionError: mapping.BisectBatchOnFunctionError === true || mapping.BisectBatchOnFunctionError === 'true',
    reportBatchItemFailures:
      Array.isArray(mapping.FunctionResponseTypes) && mapping.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    functionTimeoutSeconds: numberOrUndefined(fn?.properties.Timeout),
    functionName: typeof fn?.properties.FunctionName === 'string' ? fn.properties.FunctionName : fn?.logicalId,
    environment: fn ? literalEnvironment(fn.properties) : undefined,
  });
}

/** Reads a synthesized template file (e.g. `cdk.out/MyStack.template.json`). */
export function settingsFromTemplateFile(path: string, selection: TemplateSelection = {}): EventSourceMappingSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MappingSettingsError(`Cannot read template ${path}: ${(error as Error).message}`);
  }
  let template: unknown;
  try {
    template = JSON.parse(text);
  } catch (error) {
    throw new MappingSettingsError(`Template ${path} is not JSON: ${(error as Error).message}`);
  }
  return settingsFromTemplate(template, selection);
}

function selectMapping(resources: Record<string, TemplateResource>, selection: TemplateSelection): string {
  if (selection.eventSourceMappingLogicalId) {
    const chosen = resources[selection.eventSourceMappingLogicalId];
    if (chosen?.Type !== 'AWS::Lambda::EventSourceMapping') {
      throw new MappingSettingsError(
        `${selection.eventSourceMappingLogicalId} is not an AWS::Lambda::EventSourceMapping in the template.`,
      );
    }
    return selection.eventSourceMappingLogicalId;
  }
  const mappings = Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::Lambda::EventSourceMapping');
  const kinesisMappings = mappings.filter(([, resource]) => readsKinesis(resources, resource.Properties?.EventSourceArn));
  const candidates = kinesisMappings.length > 0 ? kinesisMappings : mappings;
  if (candidates.length === 0) {
    throw new MappingSettingsError('The template has no AWS::Lambda::EventSourceMapping resource.');
  }
  if (candidates.length > 1) {
    throw new MappingSettingsError(
      `The template has ${candidates.length} event source mappings (${candidates.map(([id]) => id).join(', ')}); name one.`,
    );
  }
  return candidates[0][0];
}

/**
 * True when the ARN is a Kinesis ARN literal (a stream's or an enhanced fan-out
 * consumer's), a GetAtt of an AWS::Kinesis::Stream, or a Ref/GetAtt of an
 * AWS::Kinesis::StreamConsumer (whose Ref is its ARN).
 */
export function readsKinesis(resources: Readonly<Record<string, TemplateResource>>, arn: unknown): boolean {
  if (typeof arn === 'string') return arn.startsWith('arn:') && arn.split(':')[2] === 'kinesis';
  const getAtt = (arn as { 'Fn::GetAtt'?: unknown[] } | null)?.['Fn::GetAtt'];
  const ref = (arn as { Ref?: unknown } | null)?.Ref;
  const logicalId = Array.isArray(getAtt) ? getAtt[0] : ref;
  const type = typeof logicalId === 'string' ? resources[logicalId]?.Type : undefined;
  return type === 'AWS::Kinesis::StreamConsumer' || (type === 'AWS::Kinesis::Stream' && Array.isArray(getAtt));
}

function functionOf(
  resources: Record<string, TemplateResource>,
  functionName: unknown,
): { logicalId: string; properties: Record<string, unknown> } | undefined {
  const ref = (functionName as { Ref?: unknown } | null)?.Ref;
  const getAtt = (functionName as { 'Fn::GetAtt'?: unknown[] } | null)?.['Fn::GetAtt'];
  const logicalId = typeof ref === 'string' ? ref : Array.isArray(getAtt) ? getAtt[0] : undefined;
  if (typeof logicalId !== 'string') return undefined;
  const resource = resources[logicalId];
  if (resource?.Type !== 'AWS::Lambda::Function') return undefined;
  return { logicalId, properties: resource.Properties ?? {} };
}

function literalEnvironment(properties: Record<string, unknown>): Record<string, string> {
  const variables = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

function numberOrUndefined(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function validate(settings: EventSourceMappingSettings): void {
  const problems: string[] = [];
  const integerIn = (name: keyof EventSourceMappingSettings, min: number, max: number) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
  };
  integerIn('batchSize', 1, 10_000);
  // AWS takes whole seconds only: a fractional window is refused, as are ages below 60 s.
  integerIn('maximumBatchingWindowInSeconds', 0, 300);
  integerIn('maximumRetryAttempts', -1, 10_000);
  if (settings.maximumRecordAgeInSeconds !== -1) integerIn('maximumRecordAgeInSeconds', 60, 604_800);
  if (!(settings.functionTimeoutSeconds > 0 && settings.functionTimeoutSeconds <= 900)) {
    problems.push(`functionTimeoutSeconds must be in (0, 900], got ${settings.functionTimeoutSeconds}`);
  }
  if (!['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'].includes(settings.startingPosition)) {
    problems.push(`startingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got ${String(settings.startingPosition)}`);
  }
  if (settings.startingPosition === 'AT_TIMESTAMP' && !settings.startingPositionTimestamp) {
    problems.push('startingPosition AT_TIMESTAMP needs startingPositionTimestamp');
  }
  if (problems.length > 0) throw new MappingSettingsError(`Invalid event source mapping settings: ${problems.join('; ')}.`);
}
