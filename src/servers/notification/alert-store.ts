import fs from 'node:fs';
import path from 'node:path';
import type { AlertRule, SeriesAlertState, Transition } from './alert-engine';

/** A delivery attempt of one alert notification. */
export interface DeliveryOutcome {
  channel: 'email' | 'slack';
  ok: boolean;
  /** Message-ID or Slack response on success, the error message on failure. */
  detail: string;
}

/** One line of the firing history. */
export interface AlertEvent {
  seq: number;
  at: string;
  alertId: string;
  kind: Exclude<Transition, null>;
  seriesKey: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  comparator: string;
  /** Sample time that caused the transition. */
  sampleAt: string;
  deliveries: DeliveryOutcome[];
}

interface Persisted {
  rules: AlertRule[];
  states: Record<string, Record<string, SeriesAlertState>>;
}

/**
 * Alert rules and their per-series states in `<dataDir>/alerts.json` (rewritten atomically on each
 * change), and the firing history appended to `alert-events.jsonl` (the newest `keepEvents` in memory;
 * the file is compacted when it grows past twice that).
 */
export class AlertStore {
  private readonly rules = new Map<string, AlertRule>();
  private readonly states = new Map<string, Map<string, SeriesAlertState>>();
  private readonly events: AlertEvent[] = [];
  private readonly rulesFile: string;
  private readonly eventsFile: string;
  private eventLines = 0;
  private seq = 0;

  constructor(
    dataDir: string,
    private readonly keepEvents = 1000,
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.rulesFile = path.join(dataDir, 'alerts.json');
    this.eventsFile = path.join(dataDir, 'alert-events.jsonl');
    if (fs.existsSync(this.rulesFile)) {
      const p = JSON.parse(fs.readFileSync(this.rulesFile, 'utf8')) as Persisted;
      for (const r of p.rules) this.rules.set(r.id, r);
      for (const [id, s] of Object.entries(p.states)) this.states.set(id, new Map(Object.entries(s)));
    }
    if (fs.existsSync(this.eventsFile)) {
      for (const line of fs.readFileSync(this.eventsFile, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        this.eventLines += 1;
        try {
          const e = JSON.parse(line) as AlertEvent;
          this.remember(e);
          this.seq = Math.max(this.seq, e.seq);
        } catch {
          // torn line after a crash
        }
      }
    }
  }

  private remember(e: AlertEvent) {
    this.events.push(e);
    if (this.events.length > this.keepEvents) this.events.shift();
  }

  private save() {
    const data: Persisted = {
      rules: [...this.rules.values()],
      states: Object.fromEntries([...this.states].map(([id, m]) => [id, Object.fromEntries(m)])),
    };
    const tmp = `${this.rulesFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(data));
    fs.renameSync(tmp, this.rulesFile);
  }

  get ruleCount(): number {
    return this.rules.size;
  }

  get(id: string): AlertRule | undefined {
    return this.rules.get(id);
  }

  list(): AlertRule[] {
    return [...this.rules.values()];
  }

  /** Stores a rule; a rule replacing another with the same id starts from a clean state. */
  put(rule: AlertRule): { replaced: boolean } {
    const replaced = this.rules.has(rule.id);
    this.rules.set(rule.id, rule);
    this.states.set(rule.id, new Map());
    this.save();
    return { replaced };
  }

  delete(id: string): boolean {
    const had = this.rules.delete(id);
    this.states.delete(id);
    if (had) this.save();
    return had;
  }

  statesOf(id: string): Map<string, SeriesAlertState> {
    let m = this.states.get(id);
    if (!m) {
      m = new Map();
      this.states.set(id, m);
    }
    return m;
  }

  /** Persists state changes made through {@link statesOf}. */
  commitStates(): void {
    this.save();
  }

  append(e: Omit<AlertEvent, 'seq'>): AlertEvent {
    this.seq += 1;
    const event: AlertEvent = { seq: this.seq, ...e };
    fs.appendFileSync(this.eventsFile, JSON.stringify(event) + '\n');
    this.eventLines += 1;
    this.remember(event);
    if (this.eventLines > 2 * this.keepEvents) {
      const tmp = `${this.eventsFile}.tmp`;
      fs.writeFileSync(tmp, this.events.map((x) => JSON.stringify(x)).join('\n') + '\n');
      fs.renameSync(tmp, this.eventsFile);
      this.eventLines = this.events.length;
    }
    return event;
  }

  /** Newest last; filtered by alert id and sequence number. */
  listEvents(opts: { alertId?: string; afterSeq?: number; limit: number }): AlertEvent[] {
    return this.events
      .filter(
        (e) =>
          (opts.alertId === undefined || e.alertId === opts.alertId) &&
          (opts.afterSeq === undefined || e.seq > opts.afterSeq),
      )
      .slice(-opts.limit);
  }

  get eventCount(): number {
    return this.seq;
  }
}
