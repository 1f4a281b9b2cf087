/**
 * The environment a MultiLang child starts with: the function's own, minus what only
 * the Node.js runtime should see, plus the caller's additions. In the Lambda Node.js
 * base image `LD_LIBRARY_PATH` puts Node's OpenSSL (/var/lang/lib) in front of the
 * system's, which breaks Python's hashlib; NODE_OPTIONS would reach a Node child too.
 */

/** Removed from the inherited environment (an explicit `env` entry still sets them). */
export const SCRUBBED_VARIABLES: readonly string[] = ['LD_LIBRARY_PATH', 'LD_PRELOAD', 'NODE_OPTIONS', 'NODE_PATH'];

export function childEnvironment(
  inherited: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && !SCRUBBED_VARIABLES.includes(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
