// Entry point run by bin/weir.js: hands the arguments to the CLI and exits with its status.
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
