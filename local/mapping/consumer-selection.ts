import type { AssemblyStack } from './cloud-assembly';
import { MappingSettingsError, readsKinesis, settingsFromTemplate, type EventSourceMappingSettings, type TemplateResource } from './mapping-settings';

/** A Kinesis event source mapping of a synthesized app, and the consumer it belongs to. */
export interface ConsumerCandidate {
  /** What to pass to `--consumer`: the construct path of the consumer, else stack/logical id. */
  readonly name: string;
  readonly stack: AssemblyStack;
  readonly eventSourceMappingLogicalId: string;
  readonly functionLogicalId?: string;
  /** The function has `KCL_CHECKPOINT_TABLE`: a KclConsumer, or a function wired like one. */
  readonly isKclConsumer: boolean;
}

/** The environment variable the construct always sets; it marks a KCL consumer's function. */
const KCL_MARKER = 'KCL_CHECKPOINT_TABLE';

/** Every Kinesis event source mapping of the stacks. */
export function consumerCandidates(stacks: readonly AssemblyStack[]): ConsumerCandidate[] {
  const candidates: ConsumerCandidate[] = [];
  for (const stack of stacks) {
    const resources = (stack.template as { Resources?: Record<string, TemplateResource> } | null)?.Resources ?? {};
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (resource?.Type !== 'AWS::Lambda::EventSourceMapping' || !readsKinesis(resources, resource.Properties?.EventSourceArn)) continue;
      const functionLogicalId = referencedLogicalId(resource.Properties?.FunctionName);
      const fn = functionLogicalId ? resources[functionLogicalId] : undefined;
      const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      candidates.push({
        name: consumerName(stack, logicalId, functionLogicalId),
        stack,
        eventSourceMappingLogicalId: logicalId,
        functionLogicalId,
        isKclConsumer: KCL_MARKER in variables,
      });
    }
  }
  return candidates;
}

/**
 * The one consumer to run: the one `wanted` names (a construct path or part of
 * one such as `Orders` or `MyStack/Orders`, or a logical id of its mapping or
 * function), or the only one. KCL consumers are preferred over other Kinesis
 * mappings. Ambiguity and no match are errors that list the candidates.
 */
export function selectConsumer(stacks: readonly AssemblyStack[], wanted?: string): ConsumerCandidate {
  const all = consumerCandidates(stacks);
  if (all.length === 0) {
    throw new MappingSettingsError(
      `The app has no Kinesis event source mapping (stacks: ${stacks.map((stack) => stack.stackName).join(', ') || 'none'}); is a KclConsumer in it?`,
    );
  }
  const kcl = all.filter((candidate) => candidate.isKclConsumer);
  const pool = kcl.length > 0 ? kcl : all;
  const list = (candidates: readonly ConsumerCandidate[]) => candidates.map((candidate) => `  ${candidate.name}`).join('\n');
  if (wanted === undefined) {
    if (pool.length === 1) return pool[0];
    throw new MappingSettingsError(`The app has ${pool.length} consumers; choose one with --consumer <construct path or id>:\n${list(pool)}`);
  }
  const matches = all.filter((candidate) => matchesConsumer(candidate, wanted));
  const preferred = matches.some((candidate) => candidate.isKclConsumer) ? matches.filter((candidate) => candidate.isKclConsumer) : matches;
  if (preferred.length === 1) return preferred[0];
  if (preferred.length === 0) throw new MappingSettingsError(`No consumer matches --consumer ${wanted}; the app has:\n${list(pool)}`);
  throw new MappingSettingsError(`--consumer ${wanted} matches ${preferred.length} consumers; name one of them:\n${list(preferred)}`);
}

/** The settings of the chosen consumer's event source mapping and function. */
export function consumerSettings(candidate: ConsumerCandidate): EventSourceMappingSettings {
  return settingsFromTemplate(candidate.stack.template, { eventSourceMappingLogicalId: candidate.eventSourceMappingLogicalId });
}

function matchesConsumer(candidate: ConsumerCandidate, wanted: string): boolean {
  const value = wanted.trim().replace(/^\/+|\/+$/g, '');
  if (value === '') return false;
  if (value === candidate.eventSourceMappingLogicalId || value === candidate.functionLogicalId) return true;
  const segments = value.split('/');
  const paths = [candidate.name, candidate.functionLogicalId && candidate.stack.paths.get(candidate.functionLogicalId)];
  return paths.some((path) => typeof path === 'string' && containsRun(path.split('/'), segments));
}

/** True when `run` occurs in `segments` as consecutive items. */
function containsRun(segments: readonly string[], run: readonly string[]): boolean {
  for (let start = 0; start + run.length <= segments.length; start += 1) {
    if (run.every((segment, offset) => segments[start + offset] === segment)) return true;
  }
  return false;
}

/**
 * The consumer's construct path: its function's path without the trailing
 * `Resource`, and without the `Function` a KclConsumer names its own function
 * (`MyStack/Orders/Function/Resource` → `MyStack/Orders`).
 */
function consumerName(stack: AssemblyStack, mappingLogicalId: string, functionLogicalId: string | undefined): string {
  const functionPath = functionLogicalId ? stack.paths.get(functionLogicalId) : undefined;
  if (functionPath) return functionPath.replace(/\/Resource$/, '').replace(/\/Function$/, '');
  const mappingPath = stack.paths.get(mappingLogicalId);
  if (mappingPath) return mappingPath.replace(/\/Resource$/, '');
  return `${stack.stackName}/${mappingLogicalId}`;
}

function referencedLogicalId(value: unknown): string | undefined {
  const ref = (value as { Ref?: unknown } | null)?.Ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown[] } | null)?.['Fn::GetAtt'];
  const logicalId = typeof ref === 'string' ? ref : Array.isArray(getAtt) ? getAtt[0] : undefined;
  return typeof logicalId === 'string' ? logicalId : undefined;
}
