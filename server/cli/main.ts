// Entry point run by bin/weir.js: hands the arguments to the CLI and exits with its status.
import { runCli } from './cli.ts';

// `weir monitor | head`: the reader went away, which is how a pipeline says "enough", not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await runCli(process.argv.slice(2));
