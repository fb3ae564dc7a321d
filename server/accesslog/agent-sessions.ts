// Per-proxy bookkeeping of the access-log streams: which agents are connected, which run of each
// agent the server is hearing, the highest entry sequence received, duplicates discarded, gaps,
// and the drop counters the agent reports. Decides, for each batch, which entries are new. Speaks
// no gRPC (see access-log-service.ts) and keeps no records (see flow-hub.ts).
import type { AccessLogCounters, DropStage } from './access-log-counters.ts';

export interface AgentDropCounters {
  /** Parsers could not enqueue (Wasm shared queue). */
  queue: number;
  /** The agent's bounded buffer overflowed. */
  buffer: number;
  /** The agent could not decode or encode an entry. */
  malformed: number;
}

export interface BatchHeader {
  nodeId: string;
  /** Identifies one run of the agent; sequences restart with a new run. */
  agentRun: string;
  firstSequence: number;
  entryCount: number;
  /** Cumulative since the run started. */
  drops: AgentDropCounters;
}

export interface BatchVerdict {
  /** Entries before this index were received before (a resend) and must be skipped. */
  firstNewEntry: number;
  /** What to acknowledge: every sequence up to it is received or counted as lost. */
  ackedSequence: number;
}

export interface AgentStatus {
  nodeId: string;
  connected: boolean;
  openStreams: number;
  peer: string | undefined;
  agentRun: string | undefined;
  /**
   * The first sequence of the current run this server heard. Above 1 after a server restart:
   * the earlier entries went to the previous server (and those it received without acknowledging
   * come again, so with its `highestSequence` this gives the entries both servers received).
   */
  runFirstSequence: number;
  highestSequence: number;
  /** New entries received from this proxy since the server started (over all runs). */
  received: number;
  duplicates: number;
  sequenceGaps: number;
  /** Latest cumulative counters of the current run, as reported. */
  drops: AgentDropCounters;
  /** Lost over all runs the server heard: agent-reported drops plus entries the server rejected. */
  lostTotal: number;
  rejected: number;
  lastBatchAt: Date | undefined;
  connectedAt: Date | undefined;
  disconnectedAt: Date | undefined;
}

export interface AgentSessionsOptions {
  counters: AccessLogCounters;
  now?: () => Date;
}

export class AgentSessions {
  readonly #agents = new Map<string, AgentStatus>();
  readonly #counters: AccessLogCounters;
  readonly #now: () => Date;

  constructor(options: AgentSessionsOptions) {
    this.#counters = options.counters;
    this.#now = options.now ?? (() => new Date());
  }

  streamOpened(nodeId: string, peer: string): void {
    const agent = this.#agent(nodeId);
    agent.openStreams += 1;
    agent.connected = true;
    agent.peer = peer;
    agent.connectedAt = this.#now();
  }

  streamClosed(nodeId: string): void {
    const agent = this.#agent(nodeId);
    agent.openStreams = Math.max(0, agent.openStreams - 1);
    agent.connected = agent.openStreams > 0;
    if (!agent.connected) agent.disconnectedAt = this.#now();
  }

  acceptBatch(header: BatchHeader): BatchVerdict {
    const agent = this.#agent(header.nodeId);
    if (agent.agentRun !== header.agentRun) this.#startRun(agent, header);
    this.#countDrops(agent, header.drops);
    agent.lastBatchAt = this.#now();
    this.#counters.batchReceived(agent.nodeId);
    const lastSequence = header.firstSequence + header.entryCount - 1;
    const firstNewEntry = Math.min(header.entryCount, Math.max(0, agent.highestSequence + 1 - header.firstSequence));
    if (firstNewEntry > 0) {
      agent.duplicates += firstNewEntry;
      this.#counters.duplicates(agent.nodeId, firstNewEntry);
    }
    const gap = header.entryCount > 0 ? header.firstSequence - (agent.highestSequence + 1) : 0;
    if (gap > 0) {
      agent.sequenceGaps += gap;
      this.#counters.sequenceGaps(agent.nodeId, gap);
    }
    agent.highestSequence = Math.max(agent.highestSequence, lastSequence);
    agent.received += header.entryCount - firstNewEntry;
    return { firstNewEntry, ackedSequence: agent.highestSequence };
  }

  /** Entries of an accepted batch the server could not turn into records. */
  countRejected(nodeId: string, count: number): void {
    if (count <= 0) return;
    const agent = this.#agent(nodeId);
    agent.rejected += count;
    agent.received -= count;
    agent.lostTotal += count;
    this.#counters.lost(nodeId, 'server_rejected', count);
  }

  list(): AgentStatus[] {
    return [...this.#agents.values()]
      .sort((left, right) => left.nodeId.localeCompare(right.nodeId))
      .map((agent) => ({ ...agent, drops: { ...agent.drops } }));
  }

  get(nodeId: string): AgentStatus | undefined {
    const agent = this.#agents.get(nodeId);
    return agent ? { ...agent, drops: { ...agent.drops } } : undefined;
  }

  /**
   * A new run (or the first batch this server hears of a run, e.g. after a server restart):
   * sequences before its first batch were acknowledged earlier or are counted in the agent's
   * drop counters, so they are not gaps.
   */
  #startRun(agent: AgentStatus, header: BatchHeader): void {
    agent.agentRun = header.agentRun;
    agent.runFirstSequence = header.firstSequence;
    agent.highestSequence = Math.max(0, header.firstSequence - 1);
    agent.drops = { queue: 0, buffer: 0, malformed: 0 };
  }

  #countDrops(agent: AgentStatus, reported: AgentDropCounters): void {
    const stages: Array<[keyof AgentDropCounters, DropStage]> = [
      ['queue', 'agent_queue'],
      ['buffer', 'agent_buffer'],
      ['malformed', 'agent_malformed'],
    ];
    for (const [counter, stage] of stages) {
      const increase = reported[counter] - agent.drops[counter];
      if (increase <= 0) continue;
      agent.drops[counter] = reported[counter];
      agent.lostTotal += increase;
      this.#counters.lost(agent.nodeId, stage, increase);
    }
  }

  #agent(nodeId: string): AgentStatus {
    let agent = this.#agents.get(nodeId);
    if (!agent) {
      agent = {
        nodeId,
        connected: false,
        openStreams: 0,
        peer: undefined,
        agentRun: undefined,
        runFirstSequence: 0,
        highestSequence: 0,
        received: 0,
        duplicates: 0,
        sequenceGaps: 0,
        drops: { queue: 0, buffer: 0, malformed: 0 },
        lostTotal: 0,
        rejected: 0,
        lastBatchAt: undefined,
        connectedAt: undefined,
        disconnectedAt: undefined,
      };
      this.#agents.set(nodeId, agent);
    }
    return agent;
  }
}
