import { MappingSettingsError, settingsFromTemplate, type EventSourceMappingSettings } from '../mapping/mapping-settings';

/**
 * The settings `cdk deploy` of the example app (bin/app.ts) would apply:
 * synthesizes it in-process, with asset bundling skipped (only the settings are
 * read, not the code), and reads its template. Loads aws-cdk-lib lazily: a few
 * seconds, paid only when no template or explicit settings are given.
 */
export async function exampleStackSettings(): Promise<EventSourceMappingSettings> {
  const previousContext = process.env.CDK_CONTEXT_JSON;
  // An empty bundling-stacks list makes NodejsFunction skip esbuild and hash nothing.
  process.env.CDK_CONTEXT_JSON = JSON.stringify({ ...parseContext(previousContext), 'aws:cdk:bundling-stacks': [] });
  try {
    const { createExampleApp } = await import('../../bin/app');
    const { app, stack } = createExampleApp();
    const template = app.synth({ validateOnSynthesis: false }).getStackArtifact(stack.artifactId).template;
    return settingsFromTemplate(template);
  } catch (error) {
    if (error instanceof MappingSettingsError) throw error;
    throw new MappingSettingsError(`Synthesizing the example stack (bin/app.ts) failed: ${(error as Error).message}`, { cause: error });
  } finally {
    if (previousContext === undefined) delete process.env.CDK_CONTEXT_JSON;
    else process.env.CDK_CONTEXT_JSON = previousContext;
  }
}

function parseContext(json: string | undefined): Record<string, unknown> {
  if (!json) return {};
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}
