// Reads the addresses Envoy's listeners actually bound from the admin API, so that tests and the
// probe can ask Envoy for port 0 and still know where to connect.
import type { EnvoyProcess } from './process.ts';

interface AdminListeners {
  listener_statuses?: Array<{
    name?: string;
    local_address?: { socket_address?: { address?: string; port_value?: number } };
  }>;
}

export async function listenerPort(envoy: EnvoyProcess, listenerName: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await envoy.admin('/listeners?format=json');
    if (status === 200) {
      const parsed = JSON.parse(body) as AdminListeners;
      const port = parsed.listener_statuses?.find((listener) => listener.name === listenerName)?.local_address
        ?.socket_address?.port_value;
      if (port !== undefined && port !== 0) return port;
    }
    if (Date.now() > deadline) {
      throw new Error(`Envoy at ${envoy.adminUrl} has no active listener "${listenerName}" after ${timeoutMs} ms (admin /listeners said: ${body})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
