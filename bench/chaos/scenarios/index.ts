import type { Scenario } from '../types';
import { killWorkerMidStep } from './s01-kill-worker';
import { killAllWorkers } from './s02-kill-all-workers';
import { temporalRestart } from './s03-temporal-restart';
import { cancelTraining } from './s04-cancel-training';
import { compensation } from './s05-compensation';
import { sigtermDrain } from './s07-sigterm-drain';
import { toolErrorNoRetry } from './s08-tool-error';
import { transientFaults } from './s09-transient-faults';
import { failover } from './s10-failover';
import { serverRestart } from './s11-server-restart';
import { longToolProgress } from './s12-long-tool';
import { concurrentClients } from './s14-concurrent';

/** Every chaos scenario, in RELIABILITY.md order. */
export const SCENARIOS: Scenario[] = [
  killWorkerMidStep,
  killAllWorkers,
  temporalRestart,
  cancelTraining,
  compensation,
  sigtermDrain,
  toolErrorNoRetry,
  transientFaults,
  failover,
  serverRestart,
  longToolProgress,
  concurrentClients,
];

/** Scenarios by name: the id (`3-temporal-restart`), its number (`3`) or its short name (`temporal-restart`). */
export function selectScenarios(names: string[] | undefined): Scenario[] {
  if (!names || names.length === 0) return SCENARIOS;
  return names.map((n) => {
    const s = SCENARIOS.find((x) => x.id === n || x.id.split('-')[0] === n || x.id.slice(x.id.indexOf('-') + 1) === n);
    if (!s) throw new Error(`--only: unknown scenario '${n}' (known: ${SCENARIOS.map((x) => x.id).join(', ')})`);
    return s;
  });
}
