// `--help` and `-h` on every command and subcommand: each prints its own usage with its flags and
// an example on stdout and exits 0, before any flag is parsed and without a server.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../server/cli/cli.ts';
import { COMMAND_USAGES } from '../../../server/cli/usage.ts';

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const code = await runCli(argv);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('weir --help', () => {
  it.each(COMMAND_USAGES.flatMap((usage) => [[usage.command, '--help'], [usage.command, '-h']]))('weir %s %s prints its usage and exits 0', async (command, flag) => {
    const result = await capture([...command.split(' '), flag]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^usage: weir ${command}`));
    expect(result.stdout).toMatch(/\nexample: weir /);
  });

  it('answers --help after other flags, and for a command group lists every subcommand', async () => {
    const late = await capture(['monitor', '--verdict', 'denied', '--help']);
    expect(late.code).toBe(0);
    expect(late.stdout).toMatch(/^usage: weir monitor /);
    const group = await capture(['policy', '--help']);
    expect(group.code).toBe(0);
    for (const sub of ['import', 'get', 'delete', 'wait', 'trace']) expect(group.stdout).toContain(`usage: weir policy ${sub}`);
  });

  it('lists every command for weir --help and weir help, and the overview on stderr with exit 2 for no command', async () => {
    for (const argv of [['--help'], ['help'], ['-h']]) {
      const result = await capture(argv);
      expect(result.code).toBe(0);
      for (const usage of COMMAND_USAGES) expect(result.stdout).toContain(`  ${usage.command} `);
    }
    const none = await capture([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^usage: weir <command>/);
  });

  it('shows the usage of the command that was misused', async () => {
    const result = await capture(['policy', 'wait', '--timout', '5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weir: Unknown option '--timout'.*\nusage: weir policy wait /s);
  });
});
