// Runs the kubectl built by the set-up against a kubeconfig, as a user would type it: arguments,
// optional stdin (`kubectl apply -f -`), exit status and both outputs. Never throws on a failed
// command; callers assert on what kubectl said.
import { spawn } from 'node:child_process';
import { requireKubeBinary } from './install.ts';

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function kubectl(kubeconfig: string, args: readonly string[], stdin?: string): Promise<KubectlResult> {
  const binary = requireKubeBinary('kubectl');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
    // kubectl may exit before it reads stdin (a refused flag, an unreachable server): the write then
    // fails with EPIPE, and its exit status and stderr, resolved above, say what happened.
    child.stdin.once('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}
