// `npm run demo -- kafka --check` must keep working: run the Kafka demo as a user would (its own
// Kafka 4.4 broker, `weir serve` and Envoy processes on free ports) and require every outcome of
// Cilium's Kafka guide to match: Kafka's console tools and kafkajs allowed and refused per the
// guide's policy, and a policy change reaching a consumer mid-stream as an authorization error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';

it('npm run demo -- kafka --check: every outcome of the Kafka demo matches', () => {
  const result = spawnSync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['demo/main.ts', 'kafka', '--check'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 420_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  // The guide's refusal, as Kafka's console consumer prints it.
  expect(output).toContain(
    'empire-outpost $ kafka-console-consumer.sh --bootstrap-server kafka-service:9092 --topic deathstar-plans --from-beginning --max-messages 1\n    org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [deathstar-plans]\n',
  );
  expect(output).toContain('empire-outpost > consumer crashed: TOPIC_AUTHORIZATION_FAILED\n');
  // The proxy's verdict on the running consumer's fetch, as `weir monitor` shows it.
  expect(output).toMatch(/<- Request kafka from \[app=empire-outpost\] to \[app=kafka\], identity \d+->\d+, verdict Denied apiKey:fetch [^\n]*topic:empire-announce/);
  expect(output).not.toMatch(/^FAIL /m);
  expect(output).toContain('demo kafka: every outcome matched');
  expect(result.status, output).toBe(0);
}, 480_000);
