/**
 * Runs each test of the calling file with these environment variables unset, and
 * puts back whatever they held afterwards, so tests neither see nor leak settings.
 */
export function isolateEnvironment(keys: readonly string[]): void {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const key of keys) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  });
  afterEach(() => {
    for (const key of keys) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });
}
