import type { CliCommand } from '../../cli/cli-command';
import { main, usage } from '../../cli/kcl-lambda';

const echo: CliCommand = {
  name: 'echo',
  summary: 'answers with the number of its arguments',
  run: async (args) => args.length,
};

describe('kcl-lambda bin', () => {
  let errors: string[];
  let logs: string[];
  beforeEach(() => {
    errors = [];
    logs = [];
    jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    jest.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line));
  });
  afterEach(() => jest.restoreAllMocks());

  it('runs the named command with the arguments after its name', async () => {
    await expect(main(['echo', 'a', 'b', 'c'], [echo])).resolves.toBe(3);
  });

  it('refuses an unknown command with exit 2 and the usage text', async () => {
    await expect(main(['nope'], [echo])).resolves.toBe(2);
    expect(errors.join('\n')).toContain('unknown command "nope"');
    expect(errors.join('\n')).toContain('echo  answers with the number of its arguments');
  });

  it('prints the usage for --help (exit 0) and when no command is given (exit 2)', async () => {
    await expect(main(['--help'], [echo])).resolves.toBe(0);
    await expect(main([], [echo])).resolves.toBe(2);
    expect(logs[0]).toBe(usage([echo]));
  });
});
